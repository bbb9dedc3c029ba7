"""The app's Streamlit side: the only package in `staging` that imports streamlit.

    common.py       the process-wide Sandbox, `guard`, page headers, notices, the model picker
    runs.py         the run picker and a run's cached evidence (Compare, Drift, Promote)
    charts.py       every chart, with the conventions they share
    overview.py     the demo in one click, the registered models
    environment.py  backend picker, starting servers, the live server table
    replay.py       traffic form, replay settings, live progress
    compare.py      the Compare page's metric lists and number formats
    drift.py        the drift table's columns and the test/threshold editor
    promote.py      the gate's checks and the audit table

Pages import `from staging import ui` and use only what `__all__` lists.
"""

from . import charts
from .common import (
                     MODEL_KEY,
                     PAGES,
                     RUN_KEY,
                     current_model,
                     flash,
                     go,
                     guard,
                     model_picker,
                     page_header,
                     percent,
                     sandbox,
                     show_error,
)
from .compare import LATENCY_FORMAT, quality_metrics
from .drift import DRIFT_COLUMNS, dataset_drift, drift_choices, drift_sentence
from .environment import backend_picker, live_server_table, start_servers_live
from .overview import DEMO_REQUESTS, registered_models, run_demo
from .promote import audit_table, policy_picker, show_verdict
from .replay import TrafficForm, replay_progress, replay_settings, traffic_form
from .runs import chosen_run, evidence, run_evidence, run_label, run_picker, run_status_note

__all__ = [
    "DEMO_REQUESTS",
    "DRIFT_COLUMNS",
    "LATENCY_FORMAT",
    "MODEL_KEY",
    "PAGES",
    "RUN_KEY",
    "TrafficForm",
    "audit_table",
    "backend_picker",
    "charts",
    "chosen_run",
    "current_model",
    "dataset_drift",
    "drift_choices",
    "drift_sentence",
    "evidence",
    "flash",
    "go",
    "guard",
    "live_server_table",
    "model_picker",
    "page_header",
    "percent",
    "policy_picker",
    "quality_metrics",
    "registered_models",
    "replay_progress",
    "replay_settings",
    "run_demo",
    "run_evidence",
    "run_label",
    "run_picker",
    "run_status_note",
    "sandbox",
    "show_error",
    "show_verdict",
    "start_servers_live",
    "traffic_form",
]
