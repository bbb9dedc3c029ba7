"""The Drift page's widgets: the drift table's columns and the editor for a column's test
or threshold."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ..analytics.drift import STAT_TESTS, dataset_drift, drift_sentence, drift_strength
from ..report.charts import feature_distribution
from ..sandbox import Sandbox
from .display import escaped

DEFAULT_TEST = "default (Evidently's choice)"
DEFAULT_THRESHOLD = "the test's default"


DRIFT_COLUMNS = ["feature", "type", "test", "score", "threshold", "drifted", "evidently_drifted", "why", "q_value",
                 "effect", "noise", "psi", "reference", "current"]


def drift_choices(drift: pd.DataFrame) -> dict[str, tuple[str | None, float | None]]:
    """An editable table of each column's test and threshold; returns only what was changed."""
    with st.expander("Choose the test or threshold of a column"):
        table = pd.DataFrame({"feature": drift["feature"], "test": DEFAULT_TEST, "threshold": DEFAULT_THRESHOLD})
        edited = st.data_editor(
            table, hide_index=True, disabled=["feature"], key="drift-choices",
            column_config={"test": st.column_config.SelectboxColumn(options=[DEFAULT_TEST, *STAT_TESTS]),
                           "threshold": st.column_config.TextColumn(
                               help="A number: a p-value below it, or a distance at or above it, is drift.")})
    choices, refused = {}, []
    for row in edited.to_dict("records"):
        test = None if row["test"] in (DEFAULT_TEST, None) else row["test"]
        text = str(row["threshold"] or "").strip()
        threshold = None
        if text and text != DEFAULT_THRESHOLD:
            try:
                threshold = float(text)
            except ValueError:
                refused.append(f"{row['feature']}: '{text}'")
            else:
                if not 0 < threshold < 10:
                    refused.append(f"{row['feature']}: {text}")
                    threshold = None
        if test is not None or threshold is not None:
            choices[row["feature"]] = (test, threshold)
    if refused:
        st.warning(escaped("These thresholds are not numbers between 0 and 10, so the test's default is kept: "
                   + "; ".join(refused) + "."))
    return choices


WHERE_VERDICTS_DIFFER = (
    "Where the sandbox's verdict and Evidently's differ, and why: Evidently's rule flags a column whenever its "
    "test fires, which on two samples of the very same data flags some column in nearly every run, while the "
    "sandbox also asks that a p-value survive the correction for testing every column at once, that the effect "
    "be large enough to matter, and that a distance on few rows beat random splits of the training data and the "
    "traffic pooled, so it flags fewer columns, and a column it flags has moved.")


def verdicts_differ(drift: pd.DataFrame) -> str:
    """The one sentence on where the two verdicts differ, with the columns and the dataset's
    verdict where they do on this run."""
    sentence = WHERE_VERDICTS_DIFFER
    overruled = drift.loc[drift["evidently_drifted"] & ~drift["drifted"], "feature"].tolist()
    if overruled:
        sentence += f" On this run Evidently's rule alone would also flag {', '.join(overruled)} (see \"why they differ\")"
        evidently_dataset = dataset_drift(drift.assign(drifted=drift["evidently_drifted"]))
        if evidently_dataset != dataset_drift(drift):
            sentence += (f", and would call the dataset {'drifted' if evidently_dataset else 'not drifted'} where "
                         f"the sandbox does {'not' if evidently_dataset else ''}".rstrip())
        sentence += "."
    return sentence


__all__ = ["DEFAULT_TEST", "DRIFT_COLUMNS", "dataset_drift", "drift_choices", "drift_sentence", "verdicts_differ"]


def drifted_distributions(box: Sandbox, run_id: str, drift: pd.DataFrame, most: int = 6) -> None:
    """The reference and current distributions of the inputs, drifted first (then by strength):
    what moved, not only that it did."""
    order = drift.assign(strength=[drift_strength(t, s, th) for t, s, th in
                                   zip(drift["test"], drift["score"], drift["threshold"], strict=True)])
    order = order.sort_values(["drifted", "strength"], ascending=[False, False])
    features = order["feature"].head(most).tolist()
    shown = box.drift_distributions(run_id, features)
    if not shown:
        return
    st.subheader("Training reference and replayed traffic, drifted inputs first")
    columns = st.columns(2)
    for index, feature in enumerate(f for f in features if f in shown):
        columns[index % 2].altair_chart(feature_distribution(shown[feature], feature), width="stretch")
    st.caption(escaped(f"Each input's share of rows per value range (numbers, on bins shared by both) or per value "
                       f"(categories, the 12 most frequent, the rest as other), in the training data and in the "
                       f"replayed traffic; the {len(shown)} inputs shown are the drifted ones first, then the next "
                       "strongest."))
