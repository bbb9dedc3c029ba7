"""Reading traffic files and checking them against a model signature."""

import json

import numpy as np
import pandas as pd
import pytest

from staging.errors import SignatureMismatchError, TrafficError
from staging.registry.scenarios import CREDIT
from staging.traffic import FeatureSpec, load_traffic, validate_traffic

SPECS = [FeatureSpec("age", "long"), FeatureSpec("income", "double"), FeatureSpec("city", "string"),
         FeatureSpec("note", "string", required=False)]


def frame():
    return pd.DataFrame({"request_id": ["a", "b", "c", "d"], "timestamp": pd.date_range("2026-01-01", periods=4),
                         "age": [30, 40, None, 50], "income": ["1000", "n/a", "3000", "4000.5"],
                         "city": ["x", "y", "z", None], "extra": [1, 2, 3, 4]})


def test_bad_rows_are_quarantined_with_reasons_and_the_rest_kept():
    result = validate_traffic(frame(), SPECS)
    assert result.requests["request_id"].tolist() == ["a"]
    assert result.report.rows_quarantined == 3
    assert result.report.reasons == {"income: not a finite number (double)": 1, "age: required but empty": 1,
                                     "city: required but empty": 1}
    assert result.report.extra_columns == ["extra"]
    assert result.report.converted_columns == ["income"]
    assert result.report.missing_optional == ["note"]
    assert set(result.quarantine["quarantine_reason"]) == set(result.report.reasons)
    assert result.requests["age"].dtype == np.int64 and result.requests["income"].iloc[0] == 1000.0


def test_missing_and_mistyped_columns_are_named():
    bad = frame().drop(columns=["city"]).assign(age=["old", "young", "new", "x"])
    with pytest.raises(SignatureMismatchError) as info:
        validate_traffic(bad, SPECS)
    assert info.value.missing == ["city"]
    assert info.value.mistyped and info.value.mistyped[0].startswith("age (expected long")
    assert "extra" in info.value.extra
    assert "Missing columns: city" in str(info.value) and "Nothing was replayed" in str(info.value)


def test_non_integer_in_long_column_is_quarantined():
    result = validate_traffic(frame().assign(age=[30, 40.5, 41, 50], income=1.0, city="x"), SPECS)
    assert result.report.reasons == {"age: not a whole number inside a 64-bit integer (long)": 1}


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_every_format_reads_to_the_same_rows(tmp_path, suffix):
    data = frame().drop(columns="timestamp")
    path = tmp_path / f"traffic{suffix}"
    if suffix == ".csv":
        data.to_csv(path, index=False)
    elif suffix == ".parquet":
        data.to_parquet(path)
    else:
        data.to_json(path, orient="records", lines=True)
    result = validate_traffic(load_traffic(path), SPECS)
    assert result.requests["request_id"].tolist() == ["a"]


def test_jsonl_lines_that_are_not_objects_are_quarantined(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({"age": 3, "income": 1.0, "city": "x"}) + "\n{not json\n[1, 2]\n")
    result = validate_traffic(load_traffic(path), SPECS)
    assert result.report.rows_valid == 1
    assert result.report.reasons == {"line is not valid JSON": 1, "line is not a JSON object": 1}


def test_unreadable_files_say_what_to_do(tmp_path):
    with pytest.raises(TrafficError, match="does not exist"):
        load_traffic(tmp_path / "missing.csv")
    (tmp_path / "t.xlsx").write_text("x")
    with pytest.raises(TrafficError, match="CSV, Parquet or JSON Lines"):
        load_traffic(tmp_path / "t.xlsx")
    (tmp_path / "empty.csv").write_text("a,b\n")
    with pytest.raises(TrafficError, match="no rows"):
        load_traffic(tmp_path / "empty.csv")


def test_sample_traffic_tells_its_story():
    traffic = pd.read_parquet(CREDIT.file("traffic"))
    labels = pd.read_parquet(CREDIT.file("labels"))
    assert len(traffic) >= 20_000 and traffic["request_id"].is_unique
    span = traffic["timestamp"].max() - traffic["timestamp"].min()
    assert span >= pd.Timedelta(weeks=4)
    coverage = traffic["request_id"].isin(labels["request_id"]).mean()
    assert 0.6 < coverage < 1.0  # most labels arrived, not all
    week = (traffic["timestamp"] - traffic["timestamp"].min()).dt.days // 7
    age = pd.to_numeric(traffic["age"])
    assert age[week >= 3].mean() < age[week < 2].mean() - 5  # younger applicants from week 3
    assert traffic.loc[week >= 3, "loan_amount"].mean() > 1.3 * traffic.loc[week < 2, "loan_amount"].mean()
    assert traffic["employment_years"].isna().any() and traffic["housing"].isna().any()




