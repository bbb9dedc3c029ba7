"""The bundled demo scenarios: which sample files form a story and how to read them.

A scenario names its registered model, task kind, feature columns, target, and the
sample files (training reference, recent data, recorded traffic, late labels).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SAMPLE_DATA = Path(__file__).resolve().parents[2] / "sample_data"


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    model_name: str
    task: str  # "classification" or "regression"
    target: str
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    story: str
    request_id_column: str = "request_id"
    timestamp_column: str = "timestamp"

    @property
    def features(self) -> tuple[str, ...]:
        return self.numeric + self.categorical

    def file(self, part: str) -> Path:
        """`part` is one of train, recent, traffic, labels."""
        return SAMPLE_DATA / f"{self.key}_{part}.parquet"


CREDIT = Scenario(
    key="credit",
    title="Credit default (classification)",
    model_name="credit-default",
    task="classification",
    target="default",
    numeric=("age", "income", "loan_amount", "loan_term_months", "employment_years",
             "credit_history_years", "num_open_accounts", "prior_defaults"),
    categorical=("employment_type", "housing", "purpose", "region"),
    story=(
        "Five weeks of loan applications. From week 3 the applicant mix shifts to younger "
        "people asking for larger loans (data drift), and a downturn makes insecure "
        "employment far riskier than it was in training (concept drift). The champion was "
        "trained on the first half of the year; the challenger, a gradient-boosted model, "
        "on the weeks just before the replay."
    ),
)

DELIVERY = Scenario(
    key="delivery",
    title="Delivery time (regression)",
    model_name="delivery-time",
    task="regression",
    target="delivery_minutes",
    numeric=("distance_km", "items", "hour_of_day", "prep_minutes"),
    categorical=("weather", "courier_type"),
    story=(
        "Four weeks of food orders in a rainy autumn: far more rain than in the summer "
        "training data. The champion is a linear model; the challenger, gradient-boosted, "
        "was trained on recent weeks."
    ),
)

SCENARIOS = {s.key: s for s in (CREDIT, DELIVERY)}
SCENARIOS_BY_MODEL = {s.model_name: s for s in SCENARIOS.values()}
