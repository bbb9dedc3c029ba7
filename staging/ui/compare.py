"""The Compare page's conventions: which quality metrics a task shows, and how the latency
table's numbers are written."""

from __future__ import annotations

QUALITY_METRICS = {"regression": ["mae", "rmse", "r2"],
                   "classification": ["accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"]}
LATENCY_FORMAT = {"error_rate": "{:.2%}", "error_rate_low": "{:.2%}", "error_rate_high": "{:.2%}",
                  "p50_ms": "{:.1f}", "p90_ms": "{:.1f}", "p95_ms": "{:.1f}", "p99_ms": "{:.1f}", "max_ms": "{:.1f}"}


def quality_metrics(task: str) -> list[str]:
    return QUALITY_METRICS["regression" if task == "regression" else "classification"]
