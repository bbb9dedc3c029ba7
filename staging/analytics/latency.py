"""Latency percentiles and error rates per model, from the replay's result rows."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from scipy import stats

from ..roles import CHALLENGER, CHAMPION, REPLICA
from .uncertainty import wilson_interval

PERCENTILES = {"p50_ms": 50, "p90_ms": 90, "p95_ms": 95, "p99_ms": 99}


def answered(results: pd.DataFrame) -> pd.Series:
    """The rows a model answered: status 200 and no error."""
    return results["status"].eq(200) & results["error"].fillna("").eq("")


def latency_table(results: pd.DataFrame) -> pd.DataFrame:
    """requests, errors, error_rate (with its 95% Wilson interval), p50/p95/p99/max of
    successful answers, per model
    (and for the champion's replica, when one ran)."""
    rows = []
    roles = [CHAMPION, CHALLENGER] + ([REPLICA] if (results["target"] == REPLICA).any() else [])
    for role in roles:
        part = results[results["target"] == role]
        failed = part["error"].fillna("").ne("") | part["status"].ne(200)
        ok = part.loc[~failed, "latency_ms"].astype(float).dropna().to_numpy()
        interval = wilson_interval(int(failed.sum()), len(part))
        row = {"model": role, "requests": int(len(part)), "errors": int(failed.sum()),
               "error_rate": interval.estimate, "error_rate_low": interval.low, "error_rate_high": interval.high}
        for name, q in PERCENTILES.items():
            row[name] = float(np.percentile(ok, q)) if ok.size else float("nan")
        row["max_ms"] = float(ok.max()) if ok.size else float("nan")
        rows.append(row)
    return pd.DataFrame(rows).set_index("model")


def latency_histogram(results: pd.DataFrame, bins: int = 40) -> pd.DataFrame:
    """Counts per latency bin and model, shared bin edges from 0 to the slowest answer (the
    last bin holds the maximum: a histogram covers everything it counts)."""
    ok = results[results["status"].eq(200)].dropna(subset=["latency_ms"])
    if ok.empty:
        return pd.DataFrame(columns=["model", "bin_start_ms", "bin_end_ms", "requests"])
    upper = float(ok["latency_ms"].max())
    edges = np.linspace(0, max(upper, 1e-3), bins + 1)
    frames = []
    for role, part in ok.groupby("target"):
        counts, _ = np.histogram(part["latency_ms"].clip(upper=upper), edges)
        frames.append(pd.DataFrame({"model": role, "bin_start_ms": edges[:-1], "bin_end_ms": edges[1:],
                                    "requests": counts}))
    return pd.concat(frames, ignore_index=True)


def percentile_intervals(results: pd.DataFrame, n_boot: int = 1000, seed: int = 0,
                         exact_above: int = 2_000) -> pd.DataFrame:
    """p50/p90/p95/p99 and the maximum per model with a 95% bootstrap interval: model,
    percentile, estimate, low, high. Up to `exact_above` answers the bootstrap is simulated
    (`n_boot` resamples); above, it is computed exactly (`order_statistic_interval`), which
    costs the same for a million answers as for a thousand."""
    rng = np.random.default_rng(seed)
    rows = []
    ok = results[answered(results)]
    for role, part in ok.groupby("target"):
        values = np.sort(part["latency_ms"].astype(float).dropna().to_numpy())
        if values.size < 2:
            continue
        simulated = values[rng.integers(0, values.size, size=(n_boot, values.size))] if (
            values.size <= exact_above) else None
        for name, q in {**PERCENTILES, "max_ms": 100}.items():
            if simulated is not None:
                boot = np.percentile(simulated, q, axis=1)
                low, high = np.percentile(boot, 2.5), np.percentile(boot, 97.5)
            else:
                low, high = order_statistic_interval(values, q)
            if name == "max_ms":  # no bootstrap can say more than the largest value seen: no interval
                low = high = float("nan")
            rows.append({"model": role, "percentile": name, "estimate": float(np.percentile(values, q)),
                         "low": float(low), "high": float(high), "answers": int(values.size)})
    return pd.DataFrame(rows, columns=["model", "percentile", "estimate", "low", "high", "answers"])


def order_statistic_interval(sorted_values: np.ndarray, q: float) -> tuple[float, float]:
    """The bootstrap percentile interval of the q-th percentile, without resampling.

    A resample's percentile is (about) its k-th smallest value, k = ceil(n q / 100). That is at
    most the j-th smallest original value exactly when at least k of the n draws fall at or
    below it, and that count is Binomial(n, j/n). So the bootstrap distribution is known in
    closed form; its 2.5th and 97.5th percentiles are found by bisection over j."""
    n = sorted_values.size
    k = min(max(int(np.ceil(n * q / 100)), 1), n)

    def smallest_index_reaching(level: float) -> int:
        low, high = 1, n
        while low < high:
            middle = (low + high) // 2
            if stats.binom.sf(k - 1, n, middle / n) >= level:
                high = middle
            else:
                low = middle + 1
        return low

    return (float(sorted_values[smallest_index_reaching(0.025) - 1]),
            float(sorted_values[smallest_index_reaching(0.975) - 1]))


def error_types(results: pd.DataFrame) -> pd.DataFrame:
    """Failed answers grouped by kind (HTTP status, timeout, connection error): model, kind,
    count, and the server's own message (the most frequent one of that kind, as it said it)."""
    failed = results[results["error"].fillna("").ne("")]
    if failed.empty:
        return pd.DataFrame(columns=["model", "kind", "count", "message"])
    kind = failed["error"].str.extract(r"^(HTTP \d+|timeout|[A-Za-z]+Error|unreadable answer)", expand=False)
    failed = failed.assign(kind=kind.fillna("other"), message=failed["error"].map(server_message))
    rows = []
    for (role, what), part in failed.groupby(["target", "kind"]):
        rows.append({"model": role, "kind": what, "count": len(part), "message": part["message"].mode().iloc[0]})
    return pd.DataFrame(rows)


def server_message(error: str) -> str:
    """What the server said, without the status: the `message` of MLflow's JSON error body when
    there is one (it may be cut short), else the text as recorded."""
    text = re.sub(r"^HTTP \d+:\s*", "", str(error))
    found = re.search(r'"message":\s*"((?:[^"\\]|\\.)*)', text)
    if found:
        text = found.group(1).replace('\\"', '"').replace("\\'", "'")
    return text.strip()[:300]


def shared_errors(pairs: pd.DataFrame) -> dict | None:
    """Shadow runs: how many requests failed on both models, on the challenger alone and on the
    champion alone, of those both were sent."""
    if pairs.empty or "champion_status" not in pairs:
        return None
    sent = pairs[pairs["champion_status"].notna() & pairs["challenger_status"].notna()]
    failed = {role: (sent[f"{role}_status"].ne(200) | sent[f"{role}_error"].fillna("").ne("")).to_numpy()
              for role in ("champion", "challenger")}
    return {"requests": int(len(sent)), "both": int((failed["champion"] & failed["challenger"]).sum()),
            "challenger_only": int((failed["challenger"] & ~failed["champion"]).sum()),
            "champion_only": int((failed["champion"] & ~failed["challenger"]).sum())}


def latency_over_time(results: pd.DataFrame, buckets: int = 60) -> pd.DataFrame:
    """p50 and p95 per model in equal slices of the replay's own clock: model, second, p50_ms, p95_ms."""
    ok = results[results["status"].eq(200)].dropna(subset=["latency_ms", "actual_send"])
    if ok.empty:
        return pd.DataFrame(columns=["model", "second", "p50_ms", "p95_ms"])
    start = ok["actual_send"].min()
    span = max(ok["actual_send"].max() - start, 1e-9)
    bucket = ((ok["actual_send"] - start) / span * (buckets - 1)).round().astype(int)
    grouped = ok.assign(bucket=bucket).groupby(["target", "bucket"])["latency_ms"]
    out = grouped.quantile(0.5).rename("p50_ms").to_frame().join(grouped.quantile(0.95).rename("p95_ms"))
    out = out.reset_index().rename(columns={"target": "model"})
    out["second"] = out["bucket"] * span / (buckets - 1)
    return out.drop(columns="bucket")


def paired_latency_ratio(results: pd.DataFrame) -> dict:
    """Per request, challenger latency ÷ champion latency (both answered): median and quartiles."""
    ok = results[results["status"].eq(200)]
    wide = ok.pivot_table(index="request_id", columns="target", values="latency_ms", aggfunc="last")
    if not {CHAMPION, CHALLENGER} <= set(wide.columns):
        return {"requests": 0, "median": float("nan"), "q1": float("nan"), "q3": float("nan")}
    ratio = (wide[CHALLENGER] / wide[CHAMPION]).dropna()
    return {"requests": int(ratio.size), "median": float(ratio.median()), "q1": float(ratio.quantile(0.25)),
            "q3": float(ratio.quantile(0.75))}


RATIO_PERCENTILES = {"p95": 95, "p99": 99}


def percentile_ratios(results: pd.DataFrame, n_boot: int = 1000, seed: int = 0,
                      paired_up_to: int = 20_000) -> pd.DataFrame:
    """The challenger's p95 and p99 latency over the champion's (and the replica's over the
    champion's, when one ran), each with a 95% bootstrap interval: percentile, model, estimate,
    low, high, method. Where both models answered the same requests (shadow) and there are at
    most `paired_up_to` of them, requests are resampled together in blocks of consecutive
    requests (a paired moving-block bootstrap: a slow spell of the machine lasts more than one
    request, and resampling requests one by one would call its noise signal); otherwise each
    model's answers are resampled on their own."""
    ok = results[answered(results)]
    rng = np.random.default_rng(seed)
    wide = ok.pivot_table(index="request_id", columns="target", values="latency_ms", aggfunc="last")
    sent = _send_order(ok)
    rows = []
    for other in (CHALLENGER, REPLICA):
        if other not in wide.columns or CHAMPION not in wide.columns:
            continue
        both = wide[[CHAMPION, other]].dropna()
        if sent is not None:
            both = both.loc[sent.reindex(both.index).sort_values(kind="stable").index]
        own = {role: ok.loc[ok["target"] == role, "latency_ms"].astype(float).dropna().to_numpy()
               for role in (CHAMPION, other)}
        paired_sample = 2 <= len(both) <= paired_up_to and len(both) >= 0.9 * min(len(v) for v in own.values())
        index = block_resamples(len(both), n_boot, rng) if paired_sample else None
        for name, q in RATIO_PERCENTILES.items():
            if paired_sample:
                a, b = both[CHAMPION].to_numpy(float), both[other].to_numpy(float)
                boot = np.percentile(b[index], q, axis=1) / np.percentile(a[index], q, axis=1)
                estimate, method = np.percentile(b, q) / np.percentile(a, q), PAIRED_METHOD
            elif min(v.size for v in own.values()) > paired_up_to:
                # large runs: each model's exact percentile interval (no resampling), combined so that
                # the ratio's interval covers both (conservative)
                a, b = np.sort(own[CHAMPION]), np.sort(own[other])
                low_a, high_a = order_statistic_interval(a, q)
                low_b, high_b = order_statistic_interval(b, q)
                boot = np.array([low_b / high_a, high_b / low_a])
                estimate, method = np.percentile(b, q) / np.percentile(a, q), "exact percentile intervals, combined"
            elif min(v.size for v in own.values()) >= 2:
                a, b = own[CHAMPION], own[other]
                boot = (np.array([np.percentile(b[rng.integers(0, b.size, b.size)], q) for _ in range(n_boot)]) /
                        np.array([np.percentile(a[rng.integers(0, a.size, a.size)], q) for _ in range(n_boot)]))
                estimate, method = np.percentile(b, q) / np.percentile(a, q), "bootstrap of each model's answers"
            else:
                continue
            low, high = (boot[0], boot[1]) if method.startswith("exact") else np.percentile(boot, [2.5, 97.5])
            rows.append({"percentile": name, "model": other, "estimate": float(estimate), "low": float(low),
                         "high": float(high), "answers": int(min(v.size for v in own.values())), "method": method})
    return pd.DataFrame(rows, columns=["percentile", "model", "estimate", "low", "high", "answers", "method"])


PAIRED_METHOD = "paired bootstrap over blocks of consecutive requests"


def block_length(count: int) -> int:
    """The moving block's length: the cube root of the count, the usual order for a variance."""
    return max(1, round(count ** (1 / 3)))


def block_resamples(count: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """`n_boot` rows of `count` indices each, made of runs of `block_length` consecutive indices
    starting anywhere (a moving-block bootstrap); one block of 1 is the plain bootstrap."""
    block = block_length(count)
    blocks = -(-count // block)
    starts = rng.integers(0, count - block + 1, size=(n_boot, blocks), dtype=np.int64)
    return (starts[:, :, None] + np.arange(block)).reshape(n_boot, -1)[:, :count]


def _send_order(answers: pd.DataFrame) -> pd.Series | None:
    """Each request's send time (the champion's, else any model's): the order blocks follow."""
    for column in ("intended_send", "actual_send"):
        if column in answers and answers[column].notna().any():
            return answers.groupby("request_id")[column].min()
    return None
