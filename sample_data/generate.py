"""Seeded generator for the sandbox's sample data: run `python sample_data/generate.py`.

Two scenarios, each a training reference, recorded production traffic and labels that
arrive late (see sample_data/README.md for the story the data tells). Every number comes
from one seeded generator, so the committed files are reproduced byte for byte.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20261122
OUT = Path(__file__).resolve().parent
LABELS_KNOWN_AT = pd.Timestamp("2026-11-22 00:00:00")

EMPLOYMENT_TYPES = ["salaried", "self_employed", "contract", "unemployed"]
HOUSING = ["rent", "own", "mortgage"]
PURPOSES = ["car", "home", "education", "business", "debt_consolidation"]
REGIONS = ["north", "south", "east", "west"]


def _credit_applicants(rng: np.random.Generator, n: int, shifted: np.ndarray) -> pd.DataFrame:
    """Applicants; rows where `shifted` is true come from the younger, larger-loan mix."""
    age = np.where(shifted, rng.normal(29, 6, n), rng.normal(42, 11, n)).clip(18, 75).round()
    income = np.exp(rng.normal(10.9, 0.45, n) + 0.006 * (age - 40)).round(-2)
    loan = np.where(shifted, rng.lognormal(9.9, 0.55, n), rng.lognormal(9.4, 0.55, n)).round(-2)
    emp_type = rng.choice(EMPLOYMENT_TYPES, n, p=[0.62, 0.16, 0.15, 0.07])
    emp_years = np.where(emp_type == "unemployed", 0.0, rng.gamma(2.0, 3.0, n).clip(0, (age - 17)))
    emp_years = emp_years.round(1)
    emp_years[rng.random(n) < 0.05] = np.nan
    housing = rng.choice(HOUSING, n, p=[0.45, 0.2, 0.35]).astype(object)
    housing[rng.random(n) < 0.03] = None
    return pd.DataFrame(
        {
            "age": age.astype("int64"),
            "income": income,
            "loan_amount": loan,
            "loan_term_months": rng.choice([12, 24, 36, 48, 60], n).astype("int64"),
            "employment_type": emp_type,
            "employment_years": emp_years,
            "housing": housing,
            "credit_history_years": (age - 18) * rng.beta(2, 2, n).round(2),
            "num_open_accounts": rng.poisson(3, n).astype("int64"),
            "prior_defaults": rng.choice([0, 1, 2, 3], n, p=[0.82, 0.12, 0.05, 0.01]).astype("int64"),
            "purpose": rng.choice(PURPOSES, n),
            "region": rng.choice(REGIONS, n),
        }
    )


def _credit_default(rng: np.random.Generator, x: pd.DataFrame, downturn: np.ndarray) -> np.ndarray:
    """Default outcome; in a downturn, insecure employment weighs far more (concept drift)."""
    burden = x["loan_amount"] / x["income"]
    emp_years = x["employment_years"].fillna(x["employment_years"].median())
    insecure = x["employment_type"].isin(["contract", "self_employed", "unemployed"]).to_numpy()
    logit = (
        -2.4
        + 2.2 * burden
        - 0.025 * (x["age"] - 40)
        + 0.85 * x["prior_defaults"]
        - 0.05 * emp_years
        + 0.35 * insecure
        + 0.9 * (x["employment_type"] == "unemployed")
        - 0.03 * x["credit_history_years"]
    ).to_numpy()
    logit = logit + downturn * (2.0 * insecure + 0.08 * (6 - emp_years.clip(0, 12)).to_numpy())
    return (rng.random(len(x)) < 1 / (1 + np.exp(-logit))).astype("int64")


def _timestamps(rng: np.random.Generator, start: str, days: int, n: int) -> pd.Series:
    """Arrival times over `days`, busier by day than by night, sorted."""
    day = rng.integers(0, days, n)
    hour = rng.choice(24, n, p=_hourly_profile())
    seconds = rng.integers(0, 3600, n)
    ts = pd.Timestamp(start) + pd.to_timedelta(day, "D") + pd.to_timedelta(hour, "h")
    return pd.Series(np.sort((ts + pd.to_timedelta(seconds, "s")).to_numpy()))


def _hourly_profile() -> np.ndarray:
    weights = np.array([1, 1, 1, 1, 1, 2, 3, 5, 8, 9, 9, 9, 8, 8, 8, 8, 7, 7, 6, 5, 4, 3, 2, 1], float)
    return weights / weights.sum()


def _late_labels(rng: np.random.Generator, frame: pd.DataFrame, target: str, lag_days: tuple) -> pd.DataFrame:
    """Labels that arrive `lag_days` after the request; later ones are not in yet, some never."""
    lag = pd.to_timedelta(rng.uniform(*lag_days, len(frame)), "D")
    arrived = frame["timestamp"] + lag
    keep = (arrived <= LABELS_KNOWN_AT) & (rng.random(len(frame)) > 0.04)
    return pd.DataFrame(
        {"request_id": frame["request_id"], target: frame[target], "label_arrived_at": arrived}
    )[keep.to_numpy()].reset_index(drop=True)


def _malform(rng: np.random.Generator, traffic: pd.DataFrame, count: int) -> pd.DataFrame:
    """The legacy request logger wrote income as text; a few rows hold junk or lose a field."""
    traffic = traffic.copy()
    traffic["income"] = traffic["income"].map(lambda v: f"{v:.0f}").astype(object)
    bad = rng.choice(len(traffic), count, replace=False)
    junk = ["n/a", "unknown", "", "12,5k", "NaN-ish"]
    for i, row in enumerate(bad):
        if i % 3 == 0:
            traffic.loc[row, "age"] = None
        else:
            traffic.loc[row, "income"] = junk[i % len(junk)]
    return traffic


def credit(rng: np.random.Generator) -> None:
    n_train, n_recent, n_traffic = 12_000, 8_000, 24_000
    train = _credit_applicants(rng, n_train, np.zeros(n_train, bool))
    train.insert(0, "applied_at", _timestamps(rng, "2026-01-05", 160, n_train))
    train["default"] = _credit_default(rng, train, np.zeros(n_train))
    train.to_parquet(OUT / "credit_train.parquet", index=False)

    # The weeks just before the replay window: the downturn has begun and the mix is moving.
    recent_shift = rng.random(n_recent) < 0.45
    recent = _credit_applicants(rng, n_recent, recent_shift)
    recent.insert(0, "applied_at", _timestamps(rng, "2026-09-14", 21, n_recent))
    recent["default"] = _credit_default(rng, recent, np.ones(n_recent))
    recent.to_parquet(OUT / "credit_recent.parquet", index=False)

    ts = _timestamps(rng, "2026-10-05", 35, n_traffic)
    week = ((ts - pd.Timestamp("2026-10-05")).dt.days // 7).to_numpy()
    shifted = (week >= 2) & (rng.random(n_traffic) < np.where(week >= 3, 0.75, 0.55))
    traffic = _credit_applicants(rng, n_traffic, shifted)
    downturn = np.clip(week / 2, 0, 1)
    outcome = _credit_default(rng, traffic, downturn)
    traffic.insert(0, "timestamp", ts)
    traffic.insert(0, "request_id", [f"cr-{i:06d}" for i in range(n_traffic)])
    traffic["default"] = outcome
    labels = _late_labels(rng, traffic, "default", (3, 21))
    labels.to_parquet(OUT / "credit_labels.parquet", index=False)
    recorded = _malform(rng, traffic.drop(columns="default"), 18)
    recorded.to_parquet(OUT / "credit_traffic.parquet", index=False)


def _deliveries(rng: np.random.Generator, n: int, rainy_share: float) -> pd.DataFrame:
    distance = rng.gamma(2.2, 1.6, n).round(2)
    items = rng.integers(1, 9, n)
    hour = rng.choice(24, n, p=_hourly_profile())
    weather = rng.choice(["clear", "rain", "snow"], n, p=[1 - rainy_share - 0.03, rainy_share, 0.03])
    courier = rng.choice(["bike", "scooter", "car"], n, p=[0.4, 0.35, 0.25])
    prep = rng.gamma(4, 3, n).round(1)
    speed = np.select([courier == "bike", courier == "scooter"], [14.0, 22.0], 26.0)
    slow = np.select([weather == "rain", weather == "snow"], [1.25, 1.6], 1.0)
    rush = np.isin(hour, [12, 13, 18, 19, 20]) * 6.0
    minutes = prep + 60 * distance / speed * slow + rush + 0.8 * items + rng.normal(0, 4, n)
    frame = pd.DataFrame(
        {
            "distance_km": distance,
            "items": items.astype("int64"),
            "hour_of_day": hour.astype("int64"),
            "weather": weather,
            "courier_type": courier,
            "prep_minutes": prep,
        }
    )
    frame["delivery_minutes"] = minutes.clip(5).round(1)
    return frame


def delivery(rng: np.random.Generator) -> None:
    train = _deliveries(rng, 4_000, 0.12)
    train.insert(0, "ordered_at", _timestamps(rng, "2026-06-01", 60, len(train)))
    train.to_parquet(OUT / "delivery_train.parquet", index=False)
    recent = _deliveries(rng, 3_000, 0.30)
    recent.insert(0, "ordered_at", _timestamps(rng, "2026-09-01", 30, len(recent)))
    recent.to_parquet(OUT / "delivery_recent.parquet", index=False)
    traffic = _deliveries(rng, 8_000, 0.35)
    traffic.insert(0, "timestamp", _timestamps(rng, "2026-10-12", 28, len(traffic)))
    traffic.insert(0, "request_id", [f"dl-{i:06d}" for i in range(len(traffic))])
    _late_labels(rng, traffic, "delivery_minutes", (0.02, 3)).to_parquet(
        OUT / "delivery_labels.parquet", index=False
    )
    traffic.drop(columns="delivery_minutes").to_parquet(OUT / "delivery_traffic.parquet", index=False)


def main() -> None:
    rng = np.random.default_rng(SEED)
    credit(rng)
    delivery(rng)
    for path in sorted(OUT.glob("*.parquet")):
        print(f"{path.name}: {len(pd.read_parquet(path)):,} rows, {path.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
