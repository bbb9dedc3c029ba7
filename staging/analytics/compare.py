"""Champion against challenger, request by request: pairing, agreement, disagreements.

Two classifiers agree on a request when they return the same label. Two regressors agree
when their values differ by at most `rel_tol` of the champion's value (5% by default) or
`abs_tol`, whichever is larger. Only requests both models answered without error count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..roles import CHALLENGER, CHAMPION, REPLICA

PAIRED_FIELDS = ("prediction", "score", "probabilities", "latency_ms", "status", "error")


@dataclass(frozen=True)
class Agreement:
    compared: int
    agreeing: int
    rule: str

    @property
    def rate(self) -> float:
        return self.agreeing / self.compared if self.compared else float("nan")


def paired(results: pd.DataFrame) -> pd.DataFrame:
    """One row per request: `champion_prediction`, `challenger_score`, ... for both targets."""
    if results.empty:
        columns = ["request_id"] + [f"{role}_{f}" for role in (CHAMPION, CHALLENGER) for f in PAIRED_FIELDS]
        return pd.DataFrame(columns=columns)
    frames = []
    for role in (CHAMPION, CHALLENGER):
        part = results.loc[results["target"] == role, ["request_id", *PAIRED_FIELDS]]
        part = part.drop_duplicates("request_id", keep="last").set_index("request_id")
        frames.append(part.add_prefix(f"{role}_"))
    both = frames[0].join(frames[1], how="outer")
    both.index.name = "request_id"
    return both.reset_index()


def answered_by_both(pairs: pd.DataFrame) -> pd.DataFrame:
    ok = pairs[f"{CHAMPION}_status"].eq(200) & pairs[f"{CHALLENGER}_status"].eq(200)
    ok &= pairs[f"{CHAMPION}_error"].fillna("").eq("") & pairs[f"{CHALLENGER}_error"].fillna("").eq("")
    return pairs[ok]


def agree_mask(pairs: pd.DataFrame, task: str, rel_tol: float = 0.05, abs_tol: float = 1e-9) -> pd.Series:
    if task == "regression":
        a = pairs[f"{CHAMPION}_score"].astype(float)
        b = pairs[f"{CHALLENGER}_score"].astype(float)
        return (a - b).abs() <= np.maximum(rel_tol * a.abs(), abs_tol)
    return pairs[f"{CHAMPION}_prediction"].astype(str) == pairs[f"{CHALLENGER}_prediction"].astype(str)


def agreement(pairs: pd.DataFrame, task: str, rel_tol: float = 0.05) -> Agreement:
    both = answered_by_both(pairs)
    rule = "same label" if task != "regression" else f"values within {rel_tol:.0%} of each other"
    return Agreement(len(both), int(agree_mask(both, task, rel_tol).sum()), rule)


def replica_agreement(results: pd.DataFrame, task: str, rel_tol: float = 0.05) -> Agreement | None:
    """Champion against its own replica on the same requests: the agreement that pure noise
    (non-determinism, jitter) leaves; None when no replica ran."""
    rows = results[results["target"].isin([CHAMPION, REPLICA])]
    if not (rows["target"] == REPLICA).any():
        return None
    as_pair = rows.assign(target=rows["target"].replace({REPLICA: CHALLENGER}))
    return agreement(paired(as_pair), task, rel_tol)


def disagreements(pairs: pd.DataFrame, requests: pd.DataFrame, task: str, limit: int = 200,
                  rel_tol: float = 0.05) -> pd.DataFrame:
    """The requests the models disagree on, largest score gap first, with their features."""
    both = answered_by_both(pairs)
    differ = both[~agree_mask(both, task, rel_tol)].copy()
    differ["score_gap"] = (differ[f"{CHALLENGER}_score"].astype(float)
                           - differ[f"{CHAMPION}_score"].astype(float))
    differ = differ.reindex(differ["score_gap"].abs().sort_values(ascending=False).index).head(limit)
    keep = ["request_id", f"{CHAMPION}_prediction", f"{CHALLENGER}_prediction", f"{CHAMPION}_score",
            f"{CHALLENGER}_score", "score_gap"]
    return differ[keep].merge(requests, on="request_id", how="left")


def with_outcomes(table: pd.DataFrame, labels: pd.DataFrame | None, target: str | None, task: str) -> pd.DataFrame:
    """The disagreements with the true outcome where it is known, and who was right (for a
    regression, who was closer); both columns empty where no label has arrived."""
    if labels is None or target is None or target not in labels.columns or table.empty:
        return table.assign(true_outcome=None, who_was_right=None)
    truth = labels[["request_id", target]].dropna().drop_duplicates("request_id")
    merged = table.merge(truth.rename(columns={target: "true_outcome"}), on="request_id", how="left")
    known = merged["true_outcome"].notna()
    if task == "regression":
        champion_gap = (merged[f"{CHAMPION}_score"] - merged["true_outcome"]).abs()
        challenger_gap = (merged[f"{CHALLENGER}_score"] - merged["true_outcome"]).abs()
        right = pd.Series(["challenger (closer)" if c < a else "champion (closer)" if a < c else "as close"
                           for a, c in zip(champion_gap, challenger_gap)], index=merged.index)
    else:
        truth_text = merged["true_outcome"].map(lambda v: str(int(v)) if isinstance(v, float) and v.is_integer()
                                                else str(v))
        champion_ok = merged[f"{CHAMPION}_prediction"].astype(str) == truth_text
        challenger_ok = merged[f"{CHALLENGER}_prediction"].astype(str) == truth_text
        right = pd.Series(["both" if a and c else "champion" if a else "challenger" if c else "neither"
                           for a, c in zip(champion_ok, challenger_ok)], index=merged.index)
        merged["true_outcome"] = truth_text.where(known)
    merged["who_was_right"] = right.where(known)
    return merged


def flip_matrix(pairs: pd.DataFrame) -> pd.DataFrame:
    """Counts of (champion's class, challenger's class) over requests both answered."""
    both = answered_by_both(pairs)
    return pd.crosstab(both[f"{CHAMPION}_prediction"].astype(str), both[f"{CHALLENGER}_prediction"].astype(str),
                       rownames=["champion"], colnames=["challenger"])


def score_deltas(pairs: pd.DataFrame, bins: int = 40) -> pd.DataFrame:
    """Histogram of challenger score minus champion score (probability of the positive class,
    or the predicted value): bin_start, bin_end, requests."""
    both = answered_by_both(pairs)
    delta = (both[f"{CHALLENGER}_score"].astype(float) - both[f"{CHAMPION}_score"].astype(float)).dropna()
    if delta.empty:
        return pd.DataFrame(columns=["bin_start", "bin_end", "requests"])
    counts, edges = np.histogram(delta, bins=bins)
    return pd.DataFrame({"bin_start": edges[:-1], "bin_end": edges[1:], "requests": counts})


def flip_sentence(matrix: pd.DataFrame) -> str:
    total = int(matrix.to_numpy().sum())
    if not total:
        return "No request was answered by both models."
    flips = [(a, b, int(matrix.loc[a, b])) for a in matrix.index for b in matrix.columns if a != b and matrix.loc[a, b]]
    if not flips:
        return "The two models give the same class on every request."
    parts = ", ".join(f"{a} → {b} on {n:,}" for a, b, n in sorted(flips, key=lambda f: -f[2]))
    return f"The class flips on {sum(n for *_, n in flips) / total:.0%} of requests: {parts} (champion → challenger)."


def prediction_sample(pairs: pd.DataFrame, labels: pd.DataFrame | None, target: str | None,
                      rows: int = 2_000, seed: int = 0) -> pd.DataFrame:
    """Regressions: up to `rows` requests both answered (a seeded sample), each model's
    prediction and the true value where known: champion, challenger, truth."""
    both = answered_by_both(pairs)
    if len(both) > rows:
        both = both.sample(rows, random_state=seed)
    out = pd.DataFrame({"request_id": both["request_id"], "champion": both[f"{CHAMPION}_score"].astype(float),
                        "challenger": both[f"{CHALLENGER}_score"].astype(float)})
    if labels is not None and target is not None and target in labels.columns:
        truth = labels[["request_id", target]].dropna().drop_duplicates("request_id")
        out = out.merge(truth.rename(columns={target: "truth"}), on="request_id", how="left")
    else:
        out["truth"] = np.nan
    return out.drop(columns="request_id").reset_index(drop=True)


def residual_histogram(pairs: pd.DataFrame, labels: pd.DataFrame | None, target: str | None,
                       bins: int = 40) -> pd.DataFrame:
    """Regressions: each model's residuals (prediction minus truth) on the labelled requests both
    answered, on shared bins: model, bin_start, bin_end, requests."""
    if labels is None or target is None or target not in labels.columns:
        return pd.DataFrame(columns=["model", "bin_start", "bin_end", "requests"])
    both = answered_by_both(pairs).merge(labels[["request_id", target]].dropna(), on="request_id")
    residuals = {role: (both[f"{role}_score"].astype(float) - both[target].astype(float)).dropna()
                 for role in (CHAMPION, CHALLENGER)}
    values = pd.concat(list(residuals.values()))
    if values.empty:
        return pd.DataFrame(columns=["model", "bin_start", "bin_end", "requests"])
    edges = np.histogram_bin_edges(values, bins=bins)
    frames = [pd.DataFrame({"model": role, "bin_start": edges[:-1], "bin_end": edges[1:],
                            "requests": np.histogram(part, edges)[0]}) for role, part in residuals.items()]
    return pd.concat(frames, ignore_index=True)
