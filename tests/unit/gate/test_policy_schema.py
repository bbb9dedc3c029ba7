"""The policy schema: the held-out probe's hostile files refused in one sentence naming the key,
within two seconds each (ten megabytes, 100,000-deep arrays); and Hypothesis writing policy
files from the schema, each setting valid or broken in one of the ways people break them: a
valid file is accepted with every value exactly as written, a broken one refused naming a key
it broke, and nothing else ever happens."""

import json
import math
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from staging.errors import ConfigurationError
from staging.gate import default_policy, load_policy, parse_policy
from staging.gate.schema import MAX_ENTRIES

HOSTILE = {
    "a section as a number (errors)": ("errors = 5\n", "[errors] must be a table"),
    "a section as a number (quality)": ("quality = 5\n", "[quality] must be a table"),
    "a task as a number": ("[quality]\nclassification = 5\n", "quality.classification must be a table"),
    "signature as text": ('signature = "fail"\n', "[signature] must be a table"),
    "an array 100,000 deep": ("x = " + "[" * 100_000 + "]" * 100_000 + "\n", "nest 100,000 deep"),
    "an inline table 20,000 deep": ("x = " + "{a = " * 20_000 + "1" + "}" * 20_000 + "\n", "nest 20,000 deep"),
    "an inline table 50,000 deep": ("x = " + "{a = " * 50_000 + "1" + "}" * 50_000 + "\n", "at most 262,144 bytes"),
    "ten megabytes of critical features": ("[drift]\ncritical_features = [" + ", ".join(['"f"'] * 1_750_000) + "]\n",
                                           "at most 262,144 bytes"),
    "1,001 critical features": ("[drift]\ncritical_features = [" + ", ".join(f'"f{i}"' for i in range(1001)) + "]\n",
                                "drift.critical_features has 1,001 entries"),
    "latency.max_p95": ("[latency]\nmax_p95 = 2\n", "unknown key 'max_p95'"),
    "errors.maxrate": ("[errors]\nmaxrate = 0.1\n", "unknown key 'maxrate'"),
    "drift.critical_feature": ('[drift]\ncritical_feature = ["age"]\n', "unknown key 'critical_feature'"),
    "a misspelt metric": ('[quality.classification.acuracy]\nrule = "not_worse"\n', "unknown key 'acuracy'"),
    "relative as text": ('[quality.regression.mae]\nrelative = "no"\n', "quality.regression.mae.relative = 'no'"),
    "greater_is_better as text": ('[quality.classification.accuracy]\ngreater_is_better = "false"\n',
                                  "greater_is_better = 'false' must be true or false"),
    "critical features as text": ('[drift]\ncritical_features = "age"\n', "drift.critical_features = 'age' must be a list"),
    "name as a list": ("name = [1, 2]\n", "name = [1, 2] must be text"),
    "threshold nan": ("[quality.classification.accuracy]\nthreshold = nan\n", "threshold = nan is not a finite number"),
    "threshold inf": ("[quality.classification.accuracy]\nthreshold = inf\n", "threshold = inf is not a finite number"),
    "min_labelled 10^23": ("min_labelled = 100000000000000000000000\n", "min_labelled = 100000000000000000000000 is out"),
    "margin 1e308": ("[quality.classification.accuracy]\nmargin = 1e308\n", "margin = 1e+308 is out of bounds"),
    "min_answers 10^29": ("[canary]\nmin_answers = 100000000000000000000000000000\n", "canary.min_answers ="),
    "a count written 30.0": ("[canary]\nmin_answers = 30.0\n", "must be a whole number"),
    "a relative margin above 1": ('[quality.regression.mae]\nrelative = true\nmargin = 2\n', "relative: a share"),
}


@pytest.mark.parametrize("what", sorted(HOSTILE))
def test_each_hostile_policy_is_refused_in_one_line_naming_the_key_within_two_seconds(tmp_path, what):
    text, words = HOSTILE[what]
    path = tmp_path / "policy.toml"
    path.write_text(text)
    began = time.perf_counter()
    with pytest.raises(ConfigurationError) as refused:
        load_policy(path)
    assert time.perf_counter() - began < 2.0
    message = str(refused.value)
    assert words in message and "\n" not in message and refused.value.hint, message


def test_the_default_policy_and_a_policy_with_every_setting_are_accepted():
    assert default_policy().name == "sandbox default"
    everything = parse_policy(FULL)
    assert everything.capacity_prices == (0.05, 0.005, "EUR") and everything.explanation_max_share == {"age": 0.3}
    assert everything.critical_features == ("income", "age") and everything.quality["regression"][0].relative is True


FULL = """name = "everything"
min_labelled = 500
[quality.classification.accuracy]
rule = "better"
min_absolute_change = 0.01
[quality.regression.mae]
margin = 0.05
relative = true
[errors]
max_increase = 0.02
max_rate = 0.4
[latency]
max_p95_ratio = 1.2
max_p99_ratio = 3
[drift]
dataset = "fail"
critical_features = ["income", "age"]
critical = "warn"
prediction = "ignore"
[segments]
action = "warn"
margin = 0.05
min_size = 100
[signature]
action = "warn"
[canary]
min_answers = 50
[estimate]
action = "fail"
[capacity]
min_rate_ratio = 0.9
max_spike_error_rate = 0.02
action = "warn"
price_vcpu_hour = 0.05
price_gb_hour = 0.005
currency = "EUR"
[explanation]
min_ndcg = 0.8
action = "fail"
max_share = { age = 0.3 }
"""

# -- Hypothesis: each setting valid, or broken the ways people break it ----------------------

share = st.floats(0, 1)
bad_share = st.one_of(st.floats(1.0001, 1e6), st.floats(-1e6, -0.0001), st.just(math.nan), st.just(math.inf),
                      st.just("0.5"), st.booleans())
action = st.sampled_from(["fail", "warn", "ignore"])
bad_action = st.one_of(st.sampled_from(["Fail", "warned", ""]), st.integers(0, 3), st.booleans())
flag = st.booleans()
bad_flag = st.one_of(st.sampled_from(["false", "no", "true"]), st.integers(0, 1))


def count(low, high):
    return st.integers(low, high)


def bad_count(low, high):
    return st.one_of(st.integers(high + 1, high * 10**20), st.integers(-10**6, low - 1), st.floats(low, high),
                     st.text(st.characters(categories=["L", "N"]), max_size=3), st.booleans())


names = st.lists(st.text(st.characters(categories=["L", "N", "Pd", "Pc", "Zs"]), min_size=1, max_size=8)
                 .filter(str.strip), max_size=4)
bad_names = st.one_of(st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=5),
                      st.lists(st.integers(), min_size=1, max_size=3))
ratio = st.floats(0.01, 100)
bad_ratio = st.one_of(st.just(0.0), st.floats(-5, -0.01), st.floats(100.01, 1e300), st.just(math.inf), st.just("1.5"))

SETTINGS = {  # section -> setting -> (valid values, broken values, the GatePolicy field it sets)
    "errors": {"max_increase": (share, bad_share, "max_error_increase"), "max_rate": (share, bad_share, "max_error_rate")},
    "latency": {"max_p95_ratio": (ratio, bad_ratio, "max_p95_ratio"), "max_p99_ratio": (ratio, bad_ratio, "max_p99_ratio")},
    "drift": {"dataset": (action, bad_action, "dataset_drift"), "critical": (action, bad_action, "critical_drift"),
              "critical_features": (names, bad_names, "critical_features")},
    "segments": {"action": (action, bad_action, "segments"), "margin": (share, bad_share, "segment_margin"),
                 "min_size": (count(1, 10_000_000), bad_count(1, 10_000_000), "segment_min_size")},
    "canary": {"min_answers": (count(1, 1_000_000), bad_count(1, 1_000_000), "canary_min_answers")},
    "explanation": {"min_ndcg": (share, bad_share, "explanation_min_ndcg"),
                    "action": (action, bad_action, "explanation")},
}
METRIC_SETTINGS = {"margin": (st.floats(0, 1), bad_share.filter(lambda v: not isinstance(v, float) or v < 0 or v != v
                                                               or v == math.inf)),
                   "greater_is_better": (flag, bad_flag), "rule": (st.sampled_from(["not_worse", "better"]),
                                                                    st.sampled_from(["best", "worse", ""]))}


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if value != value else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return "[" + ", ".join(toml_value(v) for v in value) + "]"


@st.composite
def policies(draw):
    """(TOML text, the keys broken on purpose, the values written: field -> value)."""
    lines, broken, written = [], [], {}
    if draw(st.booleans()):
        lines.append(f"min_labelled = {toml_value(value := draw(st.one_of(count(0, 10_000_000), bad_count(0, 10**7))))}")
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 10_000_000:
            written["min_labelled"] = value
        else:
            broken.append("min_labelled")
    for section, table in SETTINGS.items():
        chosen = draw(st.lists(st.sampled_from(sorted(table)), unique=True, max_size=len(table)))
        misspelt = draw(st.booleans()) and draw(st.integers(0, 9)) == 0
        if not chosen and not misspelt:
            continue
        lines.append(f"[{section}]")
        for key in chosen:
            valid, bad, field = table[key]
            if draw(st.integers(0, 9)) < 8:
                value = draw(valid)
                written[field] = tuple(value) if isinstance(value, list) else value
            else:
                value = draw(bad)
                broken.append(f"{section}.{key}")
            lines.append(f"{key} = {toml_value(value)}")
        if misspelt:
            lines.append(f"{chosen[0] if chosen else 'action'}_x = 1")
            broken.append(f"{chosen[0] if chosen else 'action'}_x")
    if draw(st.booleans()):
        metric = draw(st.sampled_from(["accuracy", "roc_auc", "acuracy", "f1_macro", "mae"]))
        task = "regression" if metric == "mae" else "classification"
        lines.append(f"[quality.{task}.{metric}]")
        if metric == "acuracy":
            broken.append("acuracy")
        for key in draw(st.lists(st.sampled_from(sorted(METRIC_SETTINGS)), unique=True)):
            valid, bad = METRIC_SETTINGS[key]
            if draw(st.integers(0, 9)) < 8:
                lines.append(f"{key} = {toml_value(draw(valid))}")
            else:
                lines.append(f"{key} = {toml_value(draw(bad))}")
                broken.append(f"quality.{task}.{metric}.{key}")
    return "\n".join(lines) + "\n", broken, written


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(policies())
def test_a_generated_policy_is_accepted_exactly_as_written_or_refused_naming_a_broken_key(policy):
    text, broken, written = policy
    try:
        parsed = parse_policy(text, "generated.toml")
    except ConfigurationError as exc:
        message = str(exc)
        assert broken, (text, message)  # nothing was broken, yet it was refused
        assert "\n" not in message and any(key.split(".")[-1] in message for key in broken), (broken, message)
        return
    assert not broken, (text, broken)  # something was broken, yet it was accepted
    for field, value in written.items():
        got = getattr(parsed, field)
        assert got == value and type(got) in (type(value), float if isinstance(value, int) else type(value)), (
            field, got, value)


def test_no_list_or_table_may_hold_more_than_the_stated_entries():
    shares = ", ".join(f"f{i} = 0.1" for i in range(MAX_ENTRIES + 1))
    with pytest.raises(ConfigurationError, match="explanation.max_share has 1,001 entries"):
        parse_policy(f"[explanation]\nmax_share = {{ {shares} }}\n")


@pytest.mark.parametrize("what", ["ten megabytes of critical features", "an array 100,000 deep", "a misspelt metric"])
def test_the_command_line_refuses_a_hostile_policy_with_exit_2_in_one_line_within_two_seconds(tmp_path, what):
    import subprocess
    import sys

    text, words = HOSTILE[what]
    path = tmp_path / "policy.toml"
    path.write_text(text)
    began = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "staging", "gate", "--model", "credit-default", "--policy", str(path),
                          "--home", str(tmp_path / "home")], capture_output=True, text=True, timeout=60)
    assert time.perf_counter() - began < 2.0
    assert out.returncode == 2 and out.stderr.startswith("error: ") and out.stderr.count("\n") == 1, out.stderr
    assert words in out.stderr
