"""The capacity run's pure parts: a repeat restarts from the first repeat's bracket and still
finds a known rate that moved; the spike's summary reads a known queue and its recovery; a
model's rate range and the ratio's range; the gate's capacity rules on known results; the
[capacity] policy section refused when wrong; the sentence that concludes a run."""

import math

import numpy as np
import pandas as pd
import pytest
from test_ramp import _server_holding

from staging.capacity import Objective, RampSettings, find_sustainable
from staging.capacity.result import CapacityResult, ModelCapacity, Prices
from staging.capacity.spike import SpikeResult, SpikeSettings, summarize_spike
from staging.errors import ConfigurationError
from staging.gate.capacity import capacity_checks
from staging.gate.policy import default_policy, parse_policy
from staging.gate.verdict import FAILED, NOT_EVALUATED, NOT_YET, PASSED


@pytest.mark.parametrize("capacity", [90.0, 160.0, 300.0, 700.0])
def test_a_repeat_from_the_first_bracket_finds_a_rate_that_moved(capacity):
    """The first repeat found ~160 req/s (bracket 160–170); the machine changed and the model now
    holds `capacity`: the repeat moves the bracket out by the growth factor and bisects again."""
    settings = RampSettings(start_rate=10, growth=2.0, max_rate=5000, refine_steps=4)
    measure, measured = _server_holding(capacity)
    found = find_sustainable(measure, settings, Objective("p99", 50.0), bracket=(160.0, 170.0))
    assert found.rate <= capacity + 0.4 < found.first_bad
    assert len(measured) <= 4 + 4 + 2  # never the whole ramp again


def test_a_repeat_of_a_ramp_that_never_broke_checks_its_top_first():
    measure, measured = _server_holding(10_000)
    found = find_sustainable(measure, RampSettings(start_rate=10, max_rate=100), Objective(), bracket=(100.0, None))
    assert found.rate == 100 and found.first_bad is None and measured == [100.0]


def _spike_answers(base_ms: float, settings: SpikeSettings, base_rate: float, capacity: float) -> pd.DataFrame:
    """A server of `capacity` requests a second answering a spike's schedule: a FIFO queue."""
    due = settings.schedule(base_rate)
    service = 1 / capacity
    free, finish = 0.0, []
    for t in due:
        start = max(t, free)
        free = start + service
        finish.append(free)
    latency = (np.array(finish) - due) * 1000 + base_ms
    return pd.DataFrame({"index": range(len(due)), "late_ms": 0.0, "status": 200, "error": "",
                         "latency_ms": latency, "service_ms": latency, "due_s": due})


def test_the_spike_summary_reads_a_known_queue_and_its_recovery():
    """Base 20/s against a server of 100/s, spiked to 200/s for 4 s: a backlog of 400 requests
    builds (4 s of work), drains at 80/s net after the spike: 5 s; the worst p99 is about 4 s."""
    settings = SpikeSettings(multiple=10, before_s=4, spike_s=4, after_s=12)
    spike = summarize_spike(_spike_answers(5.0, settings, 20.0, 100.0), settings, 20.0)
    assert spike.peak_rate == 200 and spike.errors_during == 0 and spike.sent_during == 800
    assert 3500 < spike.worst_p99_ms < 4100
    assert spike.recovery_s == pytest.approx(5.0, abs=1.01)
    assert spike.base_p99_ms == pytest.approx(15.0, abs=0.5)  # 5 ms + the 10 ms service


def test_a_spike_that_never_recovers_says_so():
    settings = SpikeSettings(multiple=10, before_s=2, spike_s=4, after_s=3)
    spike = summarize_spike(_spike_answers(5.0, settings, 20.0, 60.0), settings, 20.0)
    assert spike.recovery_s is None


@pytest.mark.parametrize("bad", [dict(multiple=1.0), dict(base_rate=0.0), dict(spike_s=0.5),
                                 dict(base_rate=float("nan"))])
def test_bad_spike_settings_are_refused_in_words(bad):
    with pytest.raises(ConfigurationError, match="spike"):
        SpikeSettings(**bad)


def _model(role, rates, first_bad, spike=None, limited=False):
    return ModelCapacity(role=role, version="1" if role == "champion" else "2", rates=rates, first_bad=first_bad,
                         steps=[], cold_start_s=[3.0], memory_growth_mb=1.0, harness_limited=limited, vcpus=1.0,
                         memory_gb=1.0, sized_by="limits", spike=spike)


def _result(champion, challenger, prices=None, peak=None):
    return CapacityResult("c1", "credit", "process", Objective("p99", 100.0), None,
                          {"champion": champion, "challenger": challenger}, "2026-12-05T00:00:00+00:00", 60.0,
                          prices=prices, peak_rate=peak)


def _spike(errors, sent):
    return SpikeResult(20, 200, 10, sent, errors, 500, 3.0, [])


VERSIONS = {"champion": "1", "challenger": "2"}


@pytest.mark.parametrize("champion, challenger, expected", [
    (([500, 520], [540, 560]), ([450, 470], [480, 500]), PASSED),   # 450/560 = 0.80 ≥ 0.8
    (([500, 520], [540, 560]), ([200, 210], [220, 230]), FAILED),   # 230/500 = 0.46 < 0.8
    (([500, 520], [540, 560]), ([380, 430], [400, 460]), NOT_YET),  # 380/560 = 0.68 … 460/500 = 0.92
    (([500, 520], [540, 560]), ([600, 700], [None, None]), PASSED),  # at least 600: ≥ 1.07
])
def test_the_rate_rule_decides_on_the_repeats_range(champion, challenger, expected):
    result = _result(_model("champion", *champion), _model("challenger", *challenger, spike=_spike(0, 800)))
    rate, spike = capacity_checks(result, default_policy(), VERSIONS)
    assert rate.status == expected, rate.sentence
    assert spike.status == PASSED  # 0 of 800: the Wilson upper end, 0.5%, is under 1%


@pytest.mark.parametrize("errors, sent, expected", [(0, 800, PASSED), (40, 800, FAILED), (6, 800, NOT_YET)])
def test_the_spike_rule_decides_on_a_wilson_interval(errors, sent, expected):
    result = _result(_model("champion", [500], [540]), _model("challenger", [500], [540], spike=_spike(errors, sent)))
    assert capacity_checks(result, default_policy(), VERSIONS)[1].status == expected


def test_no_capacity_run_is_not_evaluated_and_names_the_command():
    (check,) = capacity_checks(None, default_policy(), VERSIONS)
    assert check.status == NOT_EVALUATED and "python -m staging capacity" in check.sentence


def test_a_harness_limited_champion_leaves_the_ratio_open_above():
    result = _result(_model("champion", [3000], [3200], limited=True), _model("challenger", [1000], [1100]))
    low, high = result.ratio_range()
    assert low == 0 and high == pytest.approx(1100 / 3000)
    assert "at least 3,000 req/s (the harness's limit)" in result.conclusion()
    assert "×" not in result.conclusion()  # no ratio from a figure the harness capped


@pytest.mark.parametrize("text, fragment", [
    ("[capacity]\nmin_rate_ratio = -1\n", "min_rate_ratio = -1 is out of bounds"),
    ("[capacity]\nmax_spike_error_rate = 2\n", "must be from 0 to 1"),
    ("[capacity]\nmin_ratio = 0.5\n", "unknown key 'min_ratio'"),
    ("[capacity]\naction = 'explode'\n", "not one of"),
    ("capacity = 3\n", "must be a table"),
    ("[capacity]\nprice_vcpu_hour = 0.05\n", "no default currency"),
    ("[capacity]\nprice_vcpu_hour = -1\ncurrency = 'USD'\n", "price_vcpu_hour = -1 is out of bounds"),
])
def test_a_wrong_capacity_section_is_refused_in_one_sentence(text, fragment):
    with pytest.raises(ConfigurationError, match=fragment):
        parse_policy(text, "team.toml")


def test_the_conclusion_gives_rates_ratio_cost_and_replicas_by_hand():
    prices = Prices(0.05, 0.005, "USD")
    result = _result(_model("champion", [500, 540], [560, 580]), _model("challenger", [300, 320], [340, 350]),
                     prices=prices, peak=2000)
    text = result.conclusion()
    assert "The challenger holds 310 req/s at p99 ≤ 100 ms, the champion 520 req/s (0.60×)." in text
    hourly = 1 * 0.05 + 1 * 0.005
    assert f"{hourly / (310 * 3600) * 1000:.3g} USD" in text and f"{hourly / (520 * 3600) * 1000:.3g} USD" in text
    assert "champion 4 replicas, challenger 7" in text


@pytest.mark.parametrize("args", [(float("nan"), 0.0, "USD"), (-1.0, 0.0, "USD"), (0.05, 0.0, ""),
                                  (0.05, 0.0, "x" * 20)])
def test_prices_without_a_currency_or_with_a_bad_number_are_refused(args):
    with pytest.raises(ConfigurationError):
        Prices(*args)


def test_a_result_survives_its_json():
    import json

    from staging.jsonable import plain

    result = _result(_model("champion", [500, 540], [560, 580], spike=_spike(0, 800)),
                     _model("challenger", [300, None], [340, 20]), prices=Prices(0.05, 0.0, "EUR"), peak=100)
    again = CapacityResult.from_dict(json.loads(json.dumps(plain(result.as_dict()))))
    assert again.conclusion() == result.conclusion() and again.models["challenger"].rate is None
    assert math.isinf(again.models["challenger"].high) is False


def test_a_policy_can_price_the_cost():
    policy = parse_policy("[capacity]\nprice_vcpu_hour = 0.05\ncurrency = 'EUR'\n", "team.toml")
    assert policy.capacity_prices == (0.05, 0.0, "EUR") and default_policy().capacity_prices is None


@pytest.mark.parametrize("options, fragment", [
    (["--objective", "p90:100"], "percentile"), (["--repeats", "0"], "repeats"),
    (["--price-vcpu-hour", "nan", "--currency", "USD"], "price"), (["--max-error-rate", "1.5"], "error rate"),
    (["--step-s", "0"], "step"), (["--peak-rate", "-5"], "peak rate"), (["--timeout", "0"], "timeout"),
])
def test_the_commands_options_are_checked_into_settings_or_refused_in_words(options, fragment):
    """The capacity command's options become settings (or a ConfigurationError, exit 2) before
    anything else is read; the servers tier runs the command itself on a few of these."""
    from staging.cli.commands import capacity_settings
    from staging.cli.parser import build_parser

    args = build_parser().parse_args(["capacity", "--model", "m", *options])
    with pytest.raises(ConfigurationError, match=fragment):
        capacity_settings(args)


def test_the_commands_defaults_make_the_documented_run():
    from staging.cli.commands import capacity_settings
    from staging.cli.parser import build_parser

    settings = capacity_settings(build_parser().parse_args(["capacity", "--model", "m"]))
    assert settings.objective == Objective("p99", 100.0, 0.01) and settings.repeats == 2
    assert settings.ramp.start_rate == 20 and settings.ramp.step_s == 3 and settings.spike.multiple == 10
    assert settings.prices is None
