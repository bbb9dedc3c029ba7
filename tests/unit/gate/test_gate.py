"""The promotion gate, pure: its statistics against independent implementations (statsmodels,
scipy), its rules on known intervals, its policy file, and its error rates by simulation."""

import importlib.util
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep
from support import ROOT

from staging.analytics.bootstrap import class_bootstrap
from staging.analytics.classes import ClassSpace
from staging.analytics.drift import STAT_TESTS, _split, sampling_noise
from staging.analytics.drift_samples import (
    CategoricalSample,
    chi_squared_pvalue,
    chi_squared_two_sample_pvalue,
    sample_of,
)
from staging.analytics.latency import percentile_ratios
from staging.analytics.quality import classification_metrics
from staging.analytics.uncertainty import metric_differences, newcombe_difference, unpaired_metric_differences
from staging.errors import ConfigurationError
from staging.gate import FAILED, NOT_EVALUATED, NOT_YET, PASSED, default_policy, parse_policy
from staging.gate.policy import MetricRule
from staging.gate.rules import error_check, metric_check
from staging.serving.signatures import InputSpec, SignaturePair, compare_signatures


@pytest.mark.parametrize("counts", [(5, 400, 2, 400), (0, 300, 0, 300), (30, 1000, 12, 900), (400, 400, 1, 400),
                                    (1, 20, 7, 35)])
def test_newcombe_interval_equals_statsmodels(counts):
    errors_b, n_b, errors_a, n_a = counts
    ours = newcombe_difference(errors_b, n_b, errors_a, n_a)
    low, high = confint_proportions_2indep(errors_b, n_b, errors_a, n_a, method="newcomb", compare="diff")
    assert ours.low == pytest.approx(low, abs=1e-12) and ours.high == pytest.approx(high, abs=1e-12)


def test_the_vectorised_bootstrap_equals_the_loop_over_resamples():
    rng = np.random.default_rng(3)
    n = 300
    p = rng.uniform(0, 1, n)
    truth = np.where(rng.random(n) < p, "1", "0")
    score_a, score_b = np.round(np.clip(p + rng.normal(0, 0.2, n), 0, 1), 1), np.clip(p + rng.normal(0, 0.2, n), 0, 1)
    label_a, label_b = np.where(score_a >= 0.5, "1", "0"), np.where(score_b >= 0.5, "1", "0")

    def metrics(y, pred):
        score = pred[:, 1].astype(float)
        values = classification_metrics(y, pred[:, 0], ClassSpace(("0", "1"), "1"), np.column_stack([1 - score, score]))
        return {k: v for k, v in values.items() if k != "labelled"}

    loop = {row["metric"]: row for row in metric_differences(
        truth, np.column_stack([label_a, score_a]).astype(object), np.column_stack([label_b, score_b]).astype(object),
        metrics, n_boot=200)}
    index = {"0": 0, "1": 1}
    fast = class_bootstrap(np.vectorize(index.get)(truth), np.vectorize(index.get)(label_a),
                           np.vectorize(index.get)(label_b), 2, np.column_stack([1 - score_a, score_a]),
                           np.column_stack([1 - score_b, score_b]), 1, n_boot=200)
    for name, gaps in fast.items():
        gaps = gaps[~np.isnan(gaps)]
        assert np.percentile(gaps, 2.5) == pytest.approx(loop[name]["low"], abs=1e-12), name
        assert np.percentile(gaps, 97.5) == pytest.approx(loop[name]["high"], abs=1e-12), name


def test_unpaired_accuracy_interval_agrees_with_newcombe():
    rng = np.random.default_rng(5)
    truth_a, truth_b = rng.integers(0, 2, 3000).astype(str), rng.integers(0, 2, 2500).astype(str)
    right_a, right_b = rng.random(3000) < 0.80, rng.random(2500) < 0.77
    pred_a = np.where(right_a, truth_a, np.where(truth_a == "1", "0", "1"))
    pred_b = np.where(right_b, truth_b, np.where(truth_b == "1", "0", "1"))

    def accuracy(y, pred):
        return {"accuracy": float(np.mean(y == pred))}

    row = unpaired_metric_differences(truth_a, pred_a, truth_b, pred_b, accuracy, n_boot=2000)[0]
    reference = newcombe_difference(int(right_b.sum()), 2500, int(right_a.sum()), 3000)
    assert row["difference"] == pytest.approx(reference.estimate)
    assert row["low"] == pytest.approx(reference.low, abs=0.004) and row["high"] == pytest.approx(reference.high, abs=0.004)


def test_percentile_ratio_interval_agrees_with_scipy_paired_bootstrap():
    rng = np.random.default_rng(7)
    champion = rng.lognormal(np.log(15), 0.3, 1500)
    challenger = champion * rng.lognormal(np.log(1.2), 0.1, 1500)
    ids = [f"r{i}" for i in range(1500)]
    results = pd.concat([pd.DataFrame({"request_id": ids, "target": role, "status": 200, "error": "", "latency_ms": v})
                         for role, v in (("champion", champion), ("challenger", challenger))])
    ours = percentile_ratios(results, n_boot=2000).set_index("percentile").loc["p95"]
    reference = stats.bootstrap((challenger, champion), lambda b, a, axis=-1: np.percentile(b, 95, axis=axis)
                                / np.percentile(a, 95, axis=axis), paired=True, vectorized=True, n_resamples=2000,
                                method="percentile", random_state=1).confidence_interval
    assert ours["method"] == "paired bootstrap over blocks of consecutive requests"  # on independent requests,
    assert ours["low"] == pytest.approx(reference.low, rel=0.03) and ours["high"] == pytest.approx(reference.high, rel=0.03)


def test_blocks_of_consecutive_requests_cover_slow_spells_that_single_requests_miss():
    """Each model has its own slow spells (10 consecutive requests three times slower, 10% of
    the time): the p95 ratio of identical models is 1, and the interval over blocks covers it
    more often than one over single requests, which calls the spells' noise signal."""
    from staging.analytics import latency

    def covered(block: bool, seed: int) -> bool:
        rng = np.random.default_rng(seed)
        frames = []
        for role in ("champion", "challenger"):
            slow = np.repeat(rng.random(200) < 0.1, 10)
            values = rng.lognormal(np.log(15), 0.3, 2000) * np.where(slow, 3.0, 1.0)
            frames.append(pd.DataFrame({"request_id": [f"r{i:05d}" for i in range(2000)], "target": role,
                                        "intended_send": np.arange(2000.0), "status": 200, "error": "",
                                        "latency_ms": values}))
        original = latency.block_length
        latency.block_length = original if block else (lambda count: 1)
        try:
            row = percentile_ratios(pd.concat(frames), n_boot=300, seed=seed).set_index("percentile").loc["p95"]
        finally:
            latency.block_length = original
        return row["low"] <= 1 <= row["high"]

    blocks = np.mean([covered(True, seed) for seed in range(60)])
    singles = np.mean([covered(False, seed) for seed in range(60)])
    assert blocks > singles + 0.05 and blocks >= 0.8


def test_the_noise_of_a_distance_is_computed_at_once_exactly_as_one_by_one():
    """Every split's distance from counts at once equals the distance of the split's two sides
    built as samples and measured one by one; and a split keeps the run's sizes."""
    rng = np.random.default_rng(0)
    numeric = sample_of(pd.Series(rng.normal(0, 1, 3000).round(2)), True)
    numeric_now = sample_of(pd.Series(rng.lognormal(0, 1, 200).round(2)), True)  # values beyond the reference's
    categorical = sample_of(pd.Series(rng.choice(list("abcdefghij"), 3000)), False)
    categorical_now = sample_of(pd.Series(rng.choice(list("abcdefghijkl"), 200)), False)  # two new categories
    for test, reference, current in (("wasserstein", numeric, numeric_now),
                                     ("jensenshannon", categorical, categorical_now)):
        fast = sampling_noise(STAT_TESTS[test], reference, current)
        keys = reference.value_counts().index.union(current.value_counts().index, sort=False)
        pooled = (reference.value_counts().reindex(keys, fill_value=0)
                  + current.value_counts().reindex(keys, fill_value=0)).to_numpy(np.int64)
        if test == "wasserstein":
            order = np.argsort(keys.to_numpy(float), kind="stable")
            keys, pooled = keys[order], pooled[order]
        draws = np.random.default_rng(0).multivariate_hypergeometric(pooled, current.size, size=len(fast), method="count")
        slow = [STAT_TESTS[test].compute(*_split(reference, keys, pooled - draw, draw))[0] for draw in draws]
        assert np.allclose(fast, slow)
        assert all(draw.sum() == current.size for draw in draws)


def test_a_permutation_null_does_not_call_a_heavy_tail_drift():
    """A/A on a heavy-tailed column, 5,000 reference rows against 200: the current window often
    holds a value past the reference's maximum. Splits of the pooled rows keep the noise check's
    p-value uniform (about 5% below 0.05), where samples of the reference alone could not."""
    from staging.analytics.drift import column_drift

    rejections = []
    for seed in range(120):
        rng = np.random.default_rng(seed)
        values = rng.lognormal(0, 1.5, 5200)
        score = column_drift(pd.Series(values[:5000]), pd.Series(values[5000:]), True)
        rejections.append(score.noise_p < 0.05)
    assert np.mean(rejections) <= 0.1


def test_the_two_sample_chi_squared_does_not_cry_wolf_on_many_categories():
    """On a 30-category column, identical populations, 800 rows against 700: the goodness-of-fit
    test (Evidently's) rejects far more often than 5%; the test of homogeneity about 5%."""
    rng = np.random.default_rng(11)
    shares = 1 / np.arange(1, 31)
    shares /= shares.sum()
    goodness, homogeneity = [], []
    for _ in range(300):
        reference = sample_of(pd.Series(rng.choice(30, 800, p=shares).astype(str)), False)
        current = sample_of(pd.Series(rng.choice(30, 700, p=shares).astype(str)), False)
        goodness.append(chi_squared_pvalue(reference, current)[0] < 0.05)
        homogeneity.append(chi_squared_two_sample_pvalue(reference, current) < 0.05)
    assert np.mean(homogeneity) <= 0.09 and np.mean(goodness) > 2 * np.mean(homogeneity)
    table = np.vstack([np.bincount(rng.choice(30, 800, p=shares), minlength=30),
                       np.bincount(rng.choice(30, 700, p=shares), minlength=30)])
    a = CategoricalSample(pd.Series(table[0], index=[str(i) for i in range(30)]))
    b = CategoricalSample(pd.Series(table[1], index=[str(i) for i in range(30)]))
    assert chi_squared_two_sample_pvalue(a, b) == pytest.approx(stats.chi2_contingency(table, correction=False).pvalue)


# -- rules on known intervals ------------------------------------------------------------------
def _row(diff, low, high, champion=0.8):
    return pd.Series({"metric": "m", "champion": champion, "challenger": champion + diff, "difference": diff,
                      "low": low, "high": high, "method": "test"})


@pytest.mark.parametrize("low, high, status", [(-0.019, 0.03, PASSED), (-0.021, 0.03, NOT_YET), (0.01, 0.03, PASSED),
                                               (-0.021, -0.001, FAILED), (-0.05, 0.001, NOT_YET)])
def test_not_worse_passes_above_the_margin_fails_below_zero_and_waits_between(low, high, status):
    check = metric_check(MetricRule("accuracy", "not_worse", margin=0.02), _row((low + high) / 2, low, high),
                         unpaired=False, labelled=2000)
    assert check.status == status and "95% CI" in check.sentence and check.numbers["paired"]
    if status == NOT_YET:  # what would decide it, in the sentence and the numbers
        assert check.numbers["labels_needed"] > 2000 and "labelled requests would decide it" in check.sentence
    else:
        assert "labels_needed" not in check.numbers


def test_labels_needed_follows_the_square_root_law():
    """An interval of +-0.03 at 2,000 labels, margin 0.02: the count at which equally good
    models' intervals pass or fail in 95% of runs, found here by a plain scan with scipy."""
    check = metric_check(MetricRule("accuracy", "not_worse", margin=0.02), _row(0.0, -0.03, 0.03), unpaired=False,
                         labelled=2000)
    sd = 0.03 / stats.norm.ppf(0.975) * np.sqrt(2000)
    n = np.arange(2000, 40000, 10)
    error = sd / np.sqrt(n)
    decide = stats.norm.cdf(0.02 / error - 1.96) + stats.norm.cdf(-1.96)
    assert check.numbers["labels_needed"] == pytest.approx(n[np.argmax(decide >= 0.95)], rel=0.01)


@pytest.mark.parametrize("low, high, status", [(0.001, 0.04, PASSED), (-0.001, 0.04, NOT_YET), (-0.03, -0.001, FAILED)])
def test_better_needs_the_interval_to_exclude_zero(low, high, status):
    assert metric_check(MetricRule("accuracy", "better"), _row(0.02, low, high), unpaired=True).status == status


def test_lower_is_better_flips_the_interval_and_the_threshold_is_a_ceiling():
    rule = MetricRule("mae", "not_worse", margin=0.1, relative=True, greater_is_better=False)
    assert metric_check(rule, _row(0.05, -0.02, 0.09, champion=1.0), unpaired=False).status == PASSED
    assert metric_check(rule, _row(0.05, -0.02, 0.11, champion=1.0), unpaired=False).status == NOT_YET
    assert metric_check(rule, _row(0.15, 0.02, 0.2, champion=1.0), unpaired=False).status == FAILED
    ceiling = MetricRule("mae", "not_worse", margin=1.0, threshold=1.0, greater_is_better=False)
    assert metric_check(ceiling, _row(0.05, 0.0, 0.1, champion=1.0), unpaired=False).status == FAILED


class _Evidence:
    def __init__(self, latency):
        self.latency = latency


def _latency(errors_a, errors_b, n=1000):
    return pd.DataFrame({"requests": [n, n], "errors": [errors_a, errors_b]}, index=["champion", "challenger"])


def test_error_check_decides_on_newcombes_interval_and_a_ceiling():
    policy = default_policy()
    assert error_check(_Evidence(_latency(0, 0)), policy).status == PASSED
    assert error_check(_Evidence(_latency(0, 60)), policy).status == FAILED
    few = error_check(_Evidence(_latency(0, 0, n=100)), policy)  # too few to be sure
    assert few.status == NOT_YET and 250 < few.numbers["requests_needed"] < 800 and "requests would decide" in few.sentence
    decided = few.numbers["requests_needed"]
    assert error_check(_Evidence(_latency(0, 0, n=decided)), policy).status == PASSED
    everything_failed = error_check(_Evidence(_latency(1000, 1000)), policy)
    assert everything_failed.status == FAILED and "cannot judge" in everything_failed.sentence
    nothing = error_check(_Evidence(_latency(0, 0, n=0)), policy)
    assert nothing.status == FAILED and "nan" not in nothing.sentence


def test_signature_compatibility():
    champion = (InputSpec("age", "long"), InputSpec("income", "double"), InputSpec("note", "string", False))
    same = SignaturePair(champion, champion, ("double",), ("double",))
    assert compare_signatures(same) == []
    wider = (InputSpec("age", "double"), InputSpec("income", "double"), InputSpec("note", "string", False))
    assert compare_signatures(SignaturePair(champion, wider, ("double",), ("double",))) == []
    broken = (InputSpec("age", "string"), InputSpec("note", "string", True), InputSpec("extra", "long"))
    problems = compare_signatures(SignaturePair(champion, broken, ("double",), ("long",)))
    assert len(problems) == 5 and any("'income'" in p for p in problems) and any("outputs differ" in p for p in problems)


# -- the policy file ---------------------------------------------------------------------------
def test_the_default_policy_is_commented_and_complete():
    policy = default_policy()
    assert policy.text.lstrip().startswith("#") and policy.sha256 == __import__("hashlib").sha256(
        policy.text.encode()).hexdigest()
    assert [r.metric for r in policy.rules_for("classification")] == ["accuracy", "roc_auc"]
    assert policy.rules_for("regression")[0].greater_is_better is False


@pytest.mark.parametrize("text, words", [
    ("[quality.classification.accuracy\n", "not valid TOML"),
    ("[gates]\n", "unknown key 'gates'"),
    ("[drift]\ndataset = 'maybe'\n", "drift.dataset"),
    ("[quality.classification.accuracy]\nrule = 'better'\nmargin = -1\n", "margin = -1 is out of bounds"),
    ("[quality.classification.accuracy]\nrule = 'best'\n", "rule = 'best' is not one of"),
    ("[errors]\nmax_increase = 2\n", "must be from 0 to 1"),
    ("min_labelled = -5\n", "min_labelled = -5 is out of bounds"),
    ("[latency]\nmax_p95_ratio = nan\n", "finite number"),
])
def test_a_bad_policy_is_refused_in_one_sentence(text, words):
    with pytest.raises(ConfigurationError) as info:
        parse_policy(text, "team.toml")
    assert words in str(info.value) and "team.toml" in str(info.value) and "\n" not in str(info.value)


# -- error rates, by simulation (the bench runs the same with more seeds) -----------------------
def _bench():
    if str(ROOT / "bench") not in sys.path:  # a bench imports its neighbours (publish), as `python bench/gate.py` does
        sys.path.insert(0, str(ROOT / "bench"))
    spec = importlib.util.spec_from_file_location("gate_bench", ROOT / "bench" / "gate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_gate_rarely_fails_a_model_against_itself_and_catches_a_2_point_drop():
    bench = _bench()
    aa = [bench.gate_fails((2000, seed, "aa"))[0] for seed in range(25)]
    moved = [bench.gate_fails((5000, seed, "threshold")) for seed in range(12)]
    assert sum(aa) <= 2
    assert sum(failed for failed, _, _ in moved) >= 9
    assert all("quality: accuracy" in checks for failed, checks, _ in moved if failed)  # caught by accuracy, not AUC
    assert np.mean([gap for _, _, gap in moved]) == pytest.approx(-0.02, abs=0.006)


def test_not_evaluated_checks_say_why():
    policy = parse_policy("[drift]\ndataset = 'ignore'\n", "t.toml")
    from staging.gate.checks import drift_check

    check = drift_check(None, policy)  # the policy decides before the evidence is read
    assert check.status == NOT_EVALUATED and "ignores" in check.sentence


def test_the_verdict_blocks_on_not_yet_and_says_what_would_decide_it():
    from staging.gate import GateCheck, GateVerdict

    policy = default_policy()
    waiting = GateCheck("quality: accuracy", NOT_YET, "…", {"labels_needed": 6800})
    errors_wait = GateCheck("errors", NOT_YET, "…", {"requests_needed": 410})
    verdict = GateVerdict([GateCheck("run complete", PASSED, "…"), waiting], policy, "r1", labelled=2000,
                          requests=2100)
    assert verdict.status == NOT_YET and not verdict.passed and verdict.labels_needed == 6800
    assert verdict.headline() == ("Not yet: the evidence cannot decide quality: accuracy: nothing shows the challenger "
                                  "worse, and nothing yet shows it within the policy's margin. It would need about "
                                  "6,800 labelled requests (the run has 2,000).")
    both = GateVerdict([waiting, errors_wait], policy, "r1", labelled=2000, requests=300)
    assert "about 410 requests (the run has 300)" in both.headline() and both.as_dict()["requests_needed"] == 410
    failed = GateVerdict([waiting, GateCheck("segments", FAILED, "…")], policy, "r1")
    assert failed.status == FAILED and failed.as_dict()["labels_needed"] == 6800  # what would decide the rest


def test_the_requests_that_would_decide_the_errors_check_survive_large_counts():
    """Rare errors in a shadow run straddling the allowance: the search for the deciding count
    scales the counts far up, and the paired interval takes them as numbers, not as a crash."""
    from staging.gate.rules import requests_to_decide

    pairs = {"requests": 500, "both": 1, "challenger_only": 3, "champion_only": 1}
    assert 1000 < requests_to_decide(pairs, 2, 500, 4, 500, True, 0.01) < 2000
    worse = {"requests": 500, "both": 0, "challenger_only": 4, "champion_only": 0}  # 0.8% more, 0.1% allowed
    assert 500 < requests_to_decide(worse, 0, 500, 4, 500, True, 0.001) < 1000
    on_the_line = {"requests": 500, "both": 0, "challenger_only": 5, "champion_only": 0}  # exactly the allowance
    assert requests_to_decide(on_the_line, 0, 500, 5, 500, True, 0.01) is None  # no count decides: said so
