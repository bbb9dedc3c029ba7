"""The reference and current distributions a drifted input is drawn from: shares on bins both
sources share (equal to numpy's histogram on the pooled edges), categories with the rest as other."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from staging.analytics.distributions import feature_distributions
from staging.analytics.drift_samples import ReferenceProfile


def test_numeric_shares_are_numpys_histogram_on_shared_edges_and_categories_keep_the_most_frequent():
    rng = np.random.default_rng(1)
    reference = pd.DataFrame({"age": rng.normal(40, 10, 3000), "city": rng.choice(list("abcdefghijklmnop"), 3000)})
    current = pd.DataFrame({"age": rng.normal(50, 10, 800), "city": rng.choice(list("abc"), 800)})
    profile = ReferenceProfile.of(reference, ("age",), ("city",))
    shown = feature_distributions(profile, current, ["age", "city", "missing"], ("age",), bins=10)
    assert set(shown) == {"age", "city"}
    age = shown["age"]
    edges = np.histogram_bin_edges(np.r_[reference["age"], current["age"]], bins=10)
    for source, values in (("training reference", reference["age"]), ("replayed traffic", current["age"])):
        counts, _ = np.histogram(values, bins=edges)
        assert age.loc[age["source"] == source, "share"].to_numpy() == pytest.approx(counts / counts.sum())
    city = shown["city"]
    assert city.groupby("source")["share"].sum().to_numpy() == pytest.approx([1.0, 1.0])
    assert len(city[city["source"] == "replayed traffic"]) == 13 and "other" in set(city["value"])
    assert city.loc[(city["source"] == "replayed traffic") & (city["value"] == "other"), "share"].item() == 0.0
