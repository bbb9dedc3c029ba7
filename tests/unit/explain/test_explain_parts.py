"""The explanation's parts that need no server: coded rows decode to exactly the values they
came from (words, whole numbers, gaps), settings out of range are refused in one sentence, the
sample takes every disagreement up to its cap with weights for its stratum, and the gate's rule
is "not evaluated" without an explanation."""

import numpy as np
import pandas as pd
import pytest

from staging.errors import ConfigurationError
from staging.explain.coding import RowCoder
from staging.explain.sample import choose_rows
from staging.explain.settings import ExplainSettings
from staging.gate.explanation import explanation_checks
from staging.gate.policy import ConfigurationError as PolicyError
from staging.gate.policy import default_policy, parse_policy
from staging.gate.verdict import NOT_EVALUATED


def test_coded_rows_decode_to_the_very_values():
    frame = pd.DataFrame({"age": [31, 45, 31, 60], "city": ["Oslo", None, "Lima", "Oslo"],
                          "income": [1.5, np.nan, 2.25, 1.5]})
    coder, codes = RowCoder.of(frame, ("age", "city", "income"))
    rows = coder.rows(codes)
    assert rows[0] == (31, "Oslo", 1.5) and rows[1][1] is None and rows[1][2] is None
    assert type(rows[0][0]) is int and codes.dtype == float


@pytest.mark.parametrize("options", [{"disagreements": -1}, {"background": 0}, {"scale": "logit"},
                                     {"time_limit_s": 0}, {"disagreements": 0, "others": 0}, {"others": 2.5}])
def test_settings_out_of_range_are_refused_in_a_sentence(options):
    with pytest.raises(ConfigurationError) as error:
        ExplainSettings(**options)
    assert error.value.hint


def test_every_disagreement_up_to_the_cap_and_weights_for_the_rest():
    ids = pd.Series([f"r{i}" for i in range(100)])
    disagree = np.zeros(100, dtype=bool)
    disagree[:10] = True
    rows = choose_rows(ids, disagree, disagreements=50, others=30, seed=0)
    assert rows.totals == {"disagreement": (10, 10), "agreement": (30, 90)}
    assert set(rows.request_ids[:10]) == {f"r{i}" for i in range(10)}
    assert rows.weights[:10] == (1.0,) * 10 and rows.weights[10:] == (3.0,) * 30


def test_the_rule_is_not_evaluated_without_an_explanation_and_the_policy_is_checked():
    check, = explanation_checks(None, default_policy())
    assert check.status == NOT_EVALUATED and "python -m staging explain" in check.sentence
    policy = parse_policy("[explanation]\nmin_ndcg = 0.8\nmax_share = { age = 0.3 }\naction = 'fail'\n")
    assert policy.explanation_max_share == {"age": 0.3} and policy.explanation == "fail"
    with pytest.raises(PolicyError):
        parse_policy("[explanation]\nmax_share = 0.3\n")
    with pytest.raises(PolicyError):
        parse_policy("[explanation]\nmin_ndgc = 0.8\n")


def test_an_undecided_ranking_waits_only_where_the_rule_could_fail():
    from staging.gate.explanation import undecided
    from staging.gate.verdict import NOT_YET, WARNED

    assert undecided(default_policy()) == WARNED  # the default action warns: it never holds a promotion back
    assert undecided(parse_policy("[explanation]\naction = 'fail'\n")) == NOT_YET


def test_what_is_explained_for_each_kind_of_answer():
    from staging.analytics.classes import ClassSpace
    from staging.explain.served import OutputReader
    from staging.serving.predictions import Prediction

    regression = OutputReader.for_model("regression", None, False, "probability", "minutes")
    assert regression.names == ("the prediction",)
    assert regression([Prediction("12.5", 12.5)]).tolist() == [[12.5]]
    space = ClassSpace(("bird", "cat", "dog"))
    votes = OutputReader.for_model("classification", space, False, "probability", "species")
    assert votes.kind == "vote" and len(votes.names) == 3 and "labels only" in votes.names[0]
    assert votes([Prediction("cat"), Prediction("dog")]).tolist() == [[0, 1, 0], [0, 0, 1]]
    binary = ClassSpace(("0", "1"), positive="1")
    odds = OutputReader.for_model("classification", binary, True, "log-odds", "default")
    assert odds.names == ("log-odds of default = 1",)
    assert np.allclose(odds([Prediction("1", probabilities={"0": 0.2, "1": 0.8})]), [[np.log(4)]])
