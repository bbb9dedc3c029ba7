"""The capacity ramp, pure: the search finds a known sustainable rate, a step's summary equals
numpy's percentiles with exact intervals, cost and replicas by hand, and bad settings refused."""

import numpy as np
import pandas as pd
import pytest

from staging.capacity import (
    Objective,
    RampSettings,
    StepResult,
    cost_per_1k,
    find_sustainable,
    replicas_needed,
    summarize_step,
)
from staging.errors import ConfigurationError


def _server_holding(capacity: float):
    """A model that answers in 10 ms up to `capacity` requests a second and queues past it."""
    measured = []

    def measure(rate: float) -> StepResult:
        measured.append(rate)
        p99 = 10.0 if rate <= capacity else 10.0 + 100 * (rate - capacity)
        return StepResult(rate, 10.0, int(rate * 10), int(rate * 10), min(rate, capacity),
                          percentiles={"p99": {"estimate": p99, "low": p99, "high": p99}})

    return measure, measured


@pytest.mark.parametrize("capacity", [37.0, 100.0, 733.0])
def test_the_ramp_and_its_bisection_find_a_known_sustainable_rate(capacity):
    settings = RampSettings(start_rate=5, growth=1.6, max_rate=5000, refine_steps=4)
    measure, measured = _server_holding(capacity)
    found = find_sustainable(measure, settings, Objective("p99", 50.0))
    assert found.rate <= capacity + 0.4 < found.first_bad  # the objective allows 0.4 req/s past the knee
    assert (found.first_bad - found.rate) <= 0.6 * found.rate / 2**4 + 1e-6  # four halvings of one step
    assert measured == [s.rate for s in found.steps]  # every step kept, in the order measured


def test_a_model_that_never_breaks_the_objective_is_held_at_the_largest_rate():
    measure, _ = _server_holding(10_000)
    found = find_sustainable(measure, RampSettings(start_rate=10, max_rate=100), Objective())
    assert found.rate == 100 and found.first_bad is None


def test_a_model_that_breaks_the_first_rate_is_stepped_down_to_one_it_holds():
    measure, measured = _server_holding(3)
    found = find_sustainable(measure, RampSettings(start_rate=10, growth=2, refine_steps=2), Objective("p99", 50.0))
    assert measured[:3] == [10, 5, 2.5] and found.rate <= 3.4 < found.first_bad


def test_a_model_that_breaks_every_rate_down_to_a_sixteenth_holds_none():
    measure, measured = _server_holding(0.1)
    found = find_sustainable(measure, RampSettings(start_rate=10, growth=2), Objective("p99", 50.0))
    assert found.rate is None and found.first_bad == 0.625 and measured == [10, 5, 2.5, 1.25, 0.625]


def test_a_steps_summary_equals_numpy_and_counts_errors_by_kind():
    rng = np.random.default_rng(0)
    latencies = rng.lognormal(np.log(20), 0.4, 1000)
    answers = pd.DataFrame({"index": range(1000), "late_ms": np.where(np.arange(1000) < 7, 50.0, 0.5),
                            "status": 200, "error": "", "latency_ms": latencies, "service_ms": latencies})
    answers.loc[:9, "error"] = "timeout"
    answers.loc[10:12, "status"] = 503
    step = summarize_step(answers, rate=100, duration_s=10, late_margin_ms=10)
    ok = latencies[13:]
    assert step.percentiles["p99"]["estimate"] == pytest.approx(np.percentile(ok, 99))
    assert step.percentiles["p99"]["low"] <= step.percentiles["p99"]["estimate"] <= step.percentiles["p99"]["high"]
    assert step.errors == {"timeout": 10, "HTTP 503": 3} and step.error_rate == pytest.approx(0.013)
    assert step.late == 7 and step.answered == 987 and step.achieved == pytest.approx(98.7)
    assert not step.meets(Objective("p99", 1000, 0.01)) and step.meets(Objective("p99", 1000, 0.02))


def test_cost_per_1000_predictions_and_replicas_by_hand():
    # one vCPU at 0.05 an hour and 2 GB at 0.005 an hour: 0.06 an hour, 360,000 answers an hour at 100/s
    assert cost_per_1k(100, 1, 2, 0.05, 0.005) == pytest.approx(0.06 / 360_000 * 1000)
    assert cost_per_1k(None, 1, 2, 0.05, 0.005) is None
    assert replicas_needed(2000, 310) == 7 and replicas_needed(2000, 500) == 4 and replicas_needed(10, None) is None


@pytest.mark.parametrize("make, words", [
    (lambda: Objective("p90"), "percentile"),
    (lambda: Objective("p99", 0), "latency"),
    (lambda: Objective("p99", 100, 1.5), "error rate"),
    (lambda: RampSettings(growth=1.0), "must grow"),
    (lambda: RampSettings(start_rate=0), "start rate"),
    (lambda: RampSettings(start_rate=50, max_rate=10), "largest rate"),
])
def test_bad_settings_are_refused_in_one_sentence(make, words):
    with pytest.raises(ConfigurationError) as info:
        make()
    assert words in str(info.value)
