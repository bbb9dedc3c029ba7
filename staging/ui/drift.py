"""The Drift page's widgets: the drift table's columns and the editor for a column's test
or threshold."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ..analytics.drift import STAT_TESTS, dataset_drift, drift_sentence

DEFAULT_TEST = "default (Evidently's choice)"


DRIFT_COLUMNS = ["feature", "type", "test", "score", "threshold", "drifted", "evidently_drifted", "why", "q_value",
                 "effect", "noise", "psi", "reference", "current"]


def drift_choices(drift: pd.DataFrame) -> dict[str, tuple[str | None, float | None]]:
    """An editable table of each column's test and threshold; returns only what was changed."""
    with st.expander("Choose the test or threshold of a column"):
        table = pd.DataFrame({"feature": drift["feature"], "test": DEFAULT_TEST, "threshold": None})
        edited = st.data_editor(
            table, hide_index=True, disabled=["feature"], key="drift-choices",
            column_config={"test": st.column_config.SelectboxColumn(options=[DEFAULT_TEST, *STAT_TESTS]),
                           "threshold": st.column_config.NumberColumn(min_value=0.0, max_value=10.0, step=0.01)})
    choices = {}
    for row in edited.to_dict("records"):
        test = None if row["test"] == DEFAULT_TEST else row["test"]
        threshold = None if pd.isna(row["threshold"]) else float(row["threshold"])
        if test is not None or threshold is not None:
            choices[row["feature"]] = (test, threshold)
    return choices


__all__ = ["DEFAULT_TEST", "DRIFT_COLUMNS", "dataset_drift", "drift_choices", "drift_sentence"]
