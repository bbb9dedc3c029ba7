"""Traffic checked against a registered model's signature and its training reference (a real registry)."""


import pandas as pd
import pytest

from staging.errors import SignatureMismatchError
from staging.registry.scenarios import CREDIT


def test_traffic_of_another_model_is_refused_with_the_columns_named(sandbox):
    from staging.registry.scenarios import DELIVERY

    with pytest.raises(SignatureMismatchError) as info:
        sandbox.prepare_traffic(CREDIT.model_name, DELIVERY.file("traffic"))
    assert info.value.missing[:3] == ["age", "income", "loan_amount"]
    assert "distance_km" in info.value.extra
    assert sandbox.runs(CREDIT.model_name) == [] or all(
        r.traffic.path != str(DELIVERY.file("traffic")) for r in sandbox.runs(CREDIT.model_name))


def test_values_outside_the_training_data_are_reported_not_quarantined(sandbox):
    from staging.registry.scenarios import CREDIT

    validated = sandbox.prepare_traffic(CREDIT.model_name, CREDIT.file("traffic"))
    train = pd.read_parquet(CREDIT.file("train"))
    requests = validated.requests
    expected = {}
    for column in CREDIT.numeric:
        outside = ((requests[column] < train[column].min()) | (requests[column] > train[column].max())).sum()
        if outside:
            expected[column] = int(outside)
    for column in CREDIT.categorical:
        outside = (~requests[column].dropna().isin(set(train[column].dropna()))).sum()
        if outside:
            expected[column] = int(outside)
    assert expected and validated.report.out_of_range == expected
    assert "Outside what the training data held" in validated.report.summary()
    assert validated.report.rows_valid == len(requests)  # kept: the model must still answer them
