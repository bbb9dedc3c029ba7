"""Writes docs/figures.md, the figures page, from what the benches measured (bench/results/*.json).

    python bench/figures.py          # the page from the figures the benches last kept
    python bench/figures.py --run    # every bench run first (about an hour on 2 cores), then the page

Each row names a bench, the keys it prints, what they measure and the goal. A figure shows when
it was measured and the machine's load then (1-minute average on its cores), so the page says
whether the machine was otherwise idle. Nobody edits the page by hand.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PAGE = ROOT / "docs" / "figures.md"

# (bench, command, [(keys, what, goal, unit)])
CATALOGUE: list[tuple[str, str, list[tuple[tuple[str, ...], str, str, str]]]] = [
    ("gate", "python bench/gate.py", [
        (("aa_failed_rate_by_disagreement",), "equally good models disagreeing on 3%, 10%, 20% or 30% of requests, "
         "n = 2,000 labelled: share of runs the default policy's gate fails", "each ≤ 0.05", ""),
        (("not_yet_rate_equal_models_2k",), "the same runs: share the gate calls \"not yet\"", "", ""),
        (("power_2pt_5k",), "how often it fails a challenger 2 accuracy points worse, n = 5,000, the lower of "
         "two cases (noisier scores; a moved threshold)", "≥ 0.80", ""),
        (("labels_needed_accuracy",), "at 20% disagreement and 2,000 labels: the accuracy check's median "
         "`labels_needed`, beside the size at which 95% of simulated runs decide", "close", ""),
        (("drift_aa_any_column_rate",), "reference and current from one population (skewed and 100-category "
         "columns among them): share of runs whose drift verdict flags any column, the larger of 800/700 and "
         "5,000/200 rows", "≤ 0.05", ""),
        (("drift_power_spread_1_6x", "drift_power_spread_1_6x_laplace"), "one column 1.6 times wider (800/700 rows): "
         "share of runs flagging it, normal and Laplace", "≥ 0.80", ""),
        (("latency_aa_warn_rate_spiky",), "identical models pausing on 4% of requests, 2,000 requests: share of runs "
         "whose p95 or p99 check warns or fails", "≤ 0.05", ""),
        (("latency_failed_2x", "latency_failed_2x_spiky", "latency_failed_2x_spiky_5k"), "a challenger twice as "
         "slow, failed: on steady traffic, on that spiky traffic (2,000 and 5,000 requests)", "", ""),
    ]),
    ("capacity", "python bench/capacity.py", [
        (("known_capacity_error_pct",), "a model that holds a core 10 ms per request, on one and on two server "
         "workers: the measured sustainable rate against the capacity its measured CPU per request gives "
         "(utilization law), the worse of the two", "≤ 15", "%"),
        (("worker_ratio_error_pct",), "two workers' sustainable rate over one worker's, against 2", "≤ 15", "%"),
        (("container_ratio_error_pct",), "the same model in a container under cpus=1.0 over cpus=0.5, against 2",
         "≤ 20", "%"),
        (("harness_ceiling_ratio_vs_wrk", "harness_ceiling_rps", "wrk_rps"), "the harness's ceiling against the stub "
         "server over wrk's throughput on the same stub, in the same run", "≥ 0.9", ""),
        (("capacity_run_s",), "the demo pair on processes: the harness's ceiling, a full ramp of both models twice "
         "(A B A B) and the spike, with the command's defaults", "≤ 180", "s"),
        (("spike_recovery_s",), "the demo's tenfold spike: the slower model's time from the spike's end back to its "
         "base p99", "", "s"),
    ]),
    ("explain", "python bench/explain.py", [
        (("explain_500_rows_s",), "why they differ: both demo credit models explained through their served endpoints "
         "(processes) on 500 replayed requests, 12 features, a 25-row background", "≤ 60", "s"),
        (("linear_oracle_max_abs_error",), "the logistic champion's attributions (log-odds) against its exact SHAP "
         "values, coefficient x (x - the background's mean): the largest gap", "≤ 1e-6", ""),
        (("tree_ranking_ndcg_vs_shap",), "the boosted challenger's global ranking against shap's own exact explainer "
         "on the locally loaded model (shap's TreeExplainer misreads its categorical splits)", "≥ 0.95", ""),
        (("shap_tree_explainer_max_abs_gap_vs_exact",), "for the record: shap's TreeExplainer against its exact "
         "explainer on that model", "", ""),
        (("extra_requests_per_row",), "requests an explanation sends each model per explained row", "", ""),
    ]),
    ("pipeline", "python bench/pipeline.py", [
        (("s3_read_1m_rows_s", "local_read_1m_rows_s", "s3_over_local"), "a million-row Parquet of the credit "
         "traffic read and validated through an s3:// URL (an S3-compatible server on this machine, download "
         "included) and from a local path, side by side: s3, local, their ratio", "ratio ≤ 2", ""),
        (("webhook_to_verdict_s",), "the demo pair on processes: @challenger set on a new version in a real "
         "tracking server to the verdict tag on it (MLflow's delivery, the watcher's queue, both servers started, "
         "1,000 requests replayed, gate, report, audit record, tags)", "", "s"),
    ]),
    ("first_insight", "python bench/first_insight.py", [
        (("demo_click_to_verdict_s_process",), "click **Run the demo** to the verdict card in Chromium, fresh home, "
         "models as processes", "≤ 30", "s"),
        (("demo_click_to_verdict_s_docker",), "the same on containers, base image cached", "≤ 45", "s"),
        (("analysis_1k_s",), "the evidence of that 1,000-request run, computed from its files", "≤ 1", "s"),
        (("demo_click_to_verdict_s_process_loaded", "load_1m_during_loaded_run"), "the process measurement again "
         "with two busy processes beside it (one per core): seconds, and the 1-minute load average it ended at",
         "", ""),
    ]),
    ("fence", "python bench/fence.py", [
        (("socket_bridge_overhead_p50_ms", "direct_p50_ms", "bridged_p50_ms"), "what fencing a container adds to a "
         "request (two hops of the socket bridge), beside the same stub reached directly: overhead, direct, bridged",
         "", "ms"),
    ]),
    ("estimate", "python bench/estimate.py", [
        (("cbpe_backtest_mae_weeks_1_2",), "the credit demo through real servers: mean gap between estimated and "
         "realised accuracy, weeks 1 and 2, both models", "≤ 0.02", ""),
        (("cbpe_flags_drift_weeks_3_5",), "the back-test fails in each of weeks 3 to 5", "true", ""),
        (("estimate_1m_s",), "both models estimated per week and overall, with back-test and interval, 1M requests",
         "≤ 10", "s"),
    ]),
    ("sample_read", "python bench/sample_read.py", [
        (("sample_5m_peak_rss_mb", "full_5m_peak_rss_mb"), "`--requests 100` from a 5M-row Parquet file: peak "
         "memory sampling while reading, beside reading the whole file", "≤ 600", "MB"),
    ]),
    ("input_probe", "python bench/input_probe.py", [
        (("tracebacks",), "of 1,000 Hypothesis-made malformed traffic files (every Arrow type, ids of every JSON type, "
         "schemas that change between chunks, huge integers): those that end in a traceback", "0", "files"),
        (("garbage_accepted",), "of the same files: those accepted with an integer not as written, a non-scalar id or "
         "a value outside the model's type", "0", "files"),
        (("outcomes",), "the same files by how they end (refused before any server, quarantined, clean)", "", ""),
    ]),
    ("report", "python bench/report.py", [
        (("report_1m_s",), "the offline report and evidence file of a 1M-request run, from its stored evidence",
         "≤ 10", "s"),
    ]),
    ("containers", "python bench/containers.py", [
        (("cold_build_s",), "a model image with no image and no build cache", "", "s"),
        (("cached_start_s",), "both models, start to `/ping`, images cached", "≤ 10", "s"),
        (("container_p50_ms", "process_p50_ms"), "the same model and requests, interleaved: container, process",
         "", "ms"),
        (("container_overhead_ratio",), "container p50 over process p50", "≤ 1.10", ""),
    ]),
    ("drift", "python bench/drift.py", [
        (("drift_1m_s", "drift_1m_cached_reference_s"), "1M reference × 1M current rows, 40 columns: cold, and with "
         "the reference profile cached", "≤ 10", "s"),
        (("evidently_1m_s",), "Evidently's DataDriftPreset on the same tables, same run", "", "s"),
        (("drift_ratio_vs_evidently", "verdicts_equal_evidently"), "the sandbox's time over Evidently's, and whether "
         "every column's verdict equals Evidently's", "≤ 0.05, true", ""),
        (("peak_rss_over_data",), "peak memory less the interpreter's, over the two tables' size", "≤ 1.25", ""),
    ]),
    ("replay", "python bench/replay.py --parts stub,mlflow,overhead,schedule,batch,memory", [
        (("stub_throughput_ratio_vs_wrk", "stub_engine_rps", "stub_wrk_rps"), "the replay engine against wrk, a "
         "uvicorn stub, 32 connections: ratio, engine, wrk", "≥ 0.6", "req/s"),
        (("mlflow_throughput_ratio_vs_wrk", "mlflow_engine_rps", "mlflow_wrk_rps"), "the same against a real MLflow "
         "scoring server, 8 connections: ratio, engine, wrk", "≥ 0.95", "req/s"),
        (("overhead_p50_ms", "v2_overhead_p50_ms", "wrk_overhead_p50_ms"), "engine p50 less a stub's exact 5 ms, "
         "concurrency 1: MLflow's protocol, V2's, and wrk's", "≤ 0.7", "ms"),
        (("schedule_p99_ms",), "actual minus intended send, open loop at 200 req/s", "≤ 1", "ms"),
        (("batch_1m_rows_s",), "1,000,000 recorded rows through both real models, 2,000 rows a request", "≤ 60",
         "s"),
        (("peak_rss_mb_1m_requests",), "the worker replaying 1,000,000 requests in shadow", "< 1,000", "MB"),
    ]),
    ("traffic_read", "python bench/traffic_read.py", [
        (("read_validate_s", "peak_rss_mb"), "a 1 GB request log (2.7M MLflow payloads): read, parse and validate; "
         "peak memory", "", "s, MB"),
    ]),
    ("replay_start", "python bench/replay_start.py", [
        (("first_request_s", "before_first_request_s"), "command to first request on the 1 GB log (validated once), "
         "beside the same command at the commit that validated it twice", "", "s"),
    ]),
    ("suite", "bash scripts/test", [
        (("tests", "suite_min"), "the whole suite on a clean clone: tests, and minutes from the first install to "
         "the last test", "≤ 25", "min"),
    ]),
]


def _value(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, dict):  # "3%" before "10%": the keys in their numbers' order where they are numbers
        def order(key: str) -> tuple:
            digits = key.rstrip("%").replace(".", "", 1)
            return (0, float(key.rstrip("%"))) if digits.isdigit() else (1, key)
        return ", ".join(f"{key}: {_value(item)}" for key, item in sorted(value.items(), key=lambda kv: order(kv[0])))
    return str(value)


def _when(measured: dict) -> str:
    if not measured:
        return "not measured yet"
    load, cores = measured.get("load_1m"), measured.get("cores") or 2
    state = "idle" if load is not None and load < 0.5 * cores else f"load {load} on {cores} cores"
    return f"{measured.get('at', '?')}, {state}"


def page() -> str:
    lines = ["# Figures", "",
             "Written by `python bench/figures.py` from what each bench last measured (`bench/results/`); "
             "`python bench/figures.py --run` measures them all again. \"idle\" means the machine's 1-minute load "
             "stayed under half its cores while the bench ran. 2 cores, 24 GB. Every bench also takes `--quick` "
             "(small sizes, nothing kept), which CI runs to check that each still prints its keys.", ""]
    for bench, command, rows in CATALOGUE:
        path = RESULTS / f"{bench}.json"
        record = json.loads(path.read_text()) if path.exists() else {"figures": {}, "measured": {}}
        lines += [f"## `{command}`", "", "| keys | what | figure | goal | measured |", "|---|---|---|---|---|"]
        for keys, what, goal, unit in rows:
            figure = " / ".join(_value(record["figures"].get(k)) for k in keys) + (f" {unit}" if unit else "")
            measured = record.get("measured", {}).get(keys[0], {})
            lines.append(f"| {', '.join(f'`{k}`' for k in keys)} | {what} | {figure} | {goal or '—'} | "
                         f"{_when(measured)} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", action="store_true", help="run every bench first")
    args = parser.parse_args()
    if args.run:
        for _, command, _rows in CATALOGUE:
            if command.startswith("python bench/"):
                subprocess.run([sys.executable, *command.split()[1:]], cwd=ROOT, check=True)
    PAGE.write_text(page())
    print(f"wrote {PAGE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
