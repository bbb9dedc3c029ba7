"""The app's Streamlit side: the only package in `staging` that imports streamlit.

    common.py       the process-wide Sandbox, `guard`, page headers, notices, the model picker
    runs.py         the run picker and a run's cached evidence (Compare, Drift, Promote)
    overview.py     the demo in one click, the registered models, what the watcher found
    environment.py  backend picker, starting servers, the live server table
    replay.py       traffic form, replay settings, live progress
    compare.py      the Compare page's metric lists and number formats, the two versions side by side
    estimate.py     the Compare page's section on quality estimated before the labels land
    drift.py        the drift table's columns, the test/threshold editor, the drifted inputs' distributions
    promote.py      the policy, the gate's checks, the report downloads, the chain's state, the audit table
    history.py      the champion's periods, "champion as of", each entry's run and report

Pages import `from staging import ui` and use only what `__all__` lists; `ui.charts` is
`staging.report.charts`, which the offline report draws with too.
"""

from ..report import charts
from .capacity import capacity_form, capacity_history, capacity_result
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
from .compare import LATENCY_FORMAT, metric_names_sentence, quality_metrics, versions_side_by_side
from .display import escaped, number, readable
from .drift import DRIFT_COLUMNS, dataset_drift, drift_choices, drift_sentence, drifted_distributions, verdicts_differ
from .environment import (
                     backend_picker,
                     live_server_table,
                     runtime_picker,
                     servers_for_another_model,
                     start_servers_live,
                     trust_picker,
)
from .estimate import estimated_quality_section, late_labels_form
from .explain import why_they_differ
from .history import as_of, entry_links, periods_table
from .overview import (
                     DEMO_REQUESTS,
                     latest_run,
                     latest_run_line,
                     registered_models,
                     run_demo,
                     verdict_card,
                     watcher_series,
)
from .promote import (
                     audit_table,
                     chain_state,
                     move_done,
                     policy_picker,
                     report_downloads,
                     show_verdict,
                     signer,
                     signer_fields,
)
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
    "as_of",
    "capacity_form",
    "capacity_history",
    "capacity_result",
    "why_they_differ",
    "audit_table",
    "backend_picker",
    "chain_state",
    "charts",
    "chosen_run",
    "current_model",
    "dataset_drift",
    "drift_choices",
    "drift_sentence",
    "drifted_distributions",
    "entry_links",
    "escaped",
    "estimated_quality_section",
    "late_labels_form",
    "evidence",
    "flash",
    "go",
    "guard",
    "latest_run",
    "latest_run_line",
    "live_server_table",
    "model_picker",
    "move_done",
    "number",
    "page_header",
    "percent",
    "periods_table",
    "policy_picker",
    "quality_metrics",
    "metric_names_sentence",
    "readable",
    "registered_models",
    "replay_progress",
    "replay_settings",
    "report_downloads",
    "run_demo",
    "runtime_picker",
    "servers_for_another_model",
    "run_evidence",
    "run_label",
    "run_picker",
    "run_status_note",
    "sandbox",
    "show_error",
    "show_verdict",
    "signer",
    "signer_fields",
    "start_servers_live",
    "trust_picker",
    "traffic_form",
    "verdict_card",
    "versions_side_by_side",
    "watcher_series",
    "verdicts_differ",
]
