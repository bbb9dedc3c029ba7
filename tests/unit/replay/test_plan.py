"""The replay's plan, pure: send offsets, canary steps and their gates (replay/plan.py)."""

import numpy as np
import pandas as pd
import pytest

from staging.replay.plan import CanaryGates, canary_steps, check_gates, send_offsets
from staging.roles import CHALLENGER, CHAMPION


def test_plan_offsets_steps_and_gates():
    assert send_offsets("max", 3) is None
    assert np.allclose(send_offsets("rate", 4, rate_per_s=200), [0, 0.005, 0.01, 0.015])
    times = pd.Series(pd.to_datetime(["2026-01-01 00:00:00", "2026-01-01 00:00:02", "2026-01-01 00:00:06"]))
    assert np.allclose(send_offsets("recorded", 3, times, speed=2.0), [0, 1, 3])
    steps = canary_steps(10, (5, 25, 50, 100))
    assert [(s.start, s.end) for s in steps] == [(0, 2), (2, 5), (5, 8), (8, 10)]
    rows = pd.DataFrame({"target": [CHAMPION] * 10 + [CHALLENGER] * 10, "status": [200] * 10 + [200] * 7 + [500] * 3,
                         "error": [""] * 17 + ["HTTP 500"] * 3, "latency_ms": [10.0] * 20})
    passed, facts = check_gates(rows, CanaryGates(min_answers=10))
    assert not passed and facts["challenger_error_rate"] == pytest.approx(0.3) and "30.0%" in facts["reason"]
    passed, facts = check_gates(rows, CanaryGates())  # 10 answers are too few to judge a step by default
    assert passed and not facts["judged"] and "not judged" in facts["reason"]
    one_unlucky = pd.DataFrame({"target": [CHAMPION] * 40 + [CHALLENGER] * 40, "status": [200] * 79 + [500],
                                "error": [""] * 79 + ["HTTP 500"], "latency_ms": [10.0] * 80})
    passed, facts = check_gates(one_unlucky, CanaryGates())  # 2.5% > 2%, but its interval reaches 0.4%
    assert passed and facts["judged"] and facts["challenger_error_rate_low"] < 0.02


def test_whole_second_captures_are_spread_evenly_across_their_second():
    """SageMaker's inferenceTime has whole seconds: three requests in one second go out a third of
    a second apart (seeded), not in a burst; times with fractions are sent as recorded."""
    import numpy as np
    import pandas as pd

    from staging.replay.plan import send_offsets, whole_second_ties

    stamps = pd.Series(pd.to_datetime(["2026-10-05T10:00:00Z"] * 3 + ["2026-10-05T10:00:02Z"] * 2))
    assert whole_second_ties(stamps)
    offsets = send_offsets("recorded", 5, stamps)
    assert np.all(np.diff(offsets) > 0) and offsets[2] < 1 and 2 <= offsets[3] < offsets[4] < 3
    assert np.all(np.floor(offsets[:3] * 3) == [0, 1, 2])  # one in each third of the second
    assert np.array_equal(offsets, send_offsets("recorded", 5, stamps))  # seeded: the same every time
    fine = pd.Series(pd.to_datetime(["2026-10-05T10:00:00.120Z", "2026-10-05T10:00:00.480Z"]))
    assert not whole_second_ties(fine) and np.allclose(send_offsets("recorded", 2, fine), [0, 0.36])


def test_a_canary_step_aborts_on_latency_only_when_the_whole_interval_is_beyond_the_limit():
    """65 spiky answers whose p95 ratio is 1.68x but whose interval reaches 1.07x do not abort
    (the gate on the same evidence would only warn); a challenger plainly 3x slower does."""
    rng = np.random.default_rng(0)
    champion = rng.lognormal(np.log(10), 0.6, 300)
    spiky = rng.lognormal(np.log(10), 1.0, 65)
    rows = lambda ours: pd.DataFrame({"target": [CHAMPION] * 300 + [CHALLENGER] * len(ours),
                                      "status": 200, "error": "", "latency_ms": np.r_[champion, ours]})
    passed, facts = check_gates(rows(spiky), CanaryGates())
    assert facts["p95_ratio"] > 1.5 and facts["p95_ratio_low"] < 1.5 and passed
    passed, facts = check_gates(rows(champion[:65] * 3), CanaryGates())
    assert not passed and facts["p95_ratio_low"] > 1.5 and "95% CI" in facts["reason"]


def test_steps_after_an_abort_read_not_reached():
    from staging.replay.plan import not_reached

    step = not_reached(50, 300, "the canary was aborted")
    assert step["share"] == 0 and step["passed"] is None and not step["judged"] and "not reached" in step["reason"]
