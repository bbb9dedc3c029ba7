"""A run's stored explanation: what was explained and how, each row's attributions, and what
they say: the two models' global rankings compared, and each disagreement's reasons in words.

Kept in the run's folder (`runs.folder.EXPLANATION`), written by the explanation worker and
never recomputed: `explanation.json` (the settings, the method, the background, the sample,
the extra requests each model received, the status) and `attributions.parquet` (one row per
explained request, model and output: the request's stratum and weight, the model's answer, its
base value and one column per feature).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..analytics.attribution import CLARIFY_NDCG, AttributionComparison, compare_attributions, row_reasons
from ..errors import RunError
from ..files import atomic_write
from ..roles import CHALLENGER, CHAMPION
from ..runs.folder import EXPLANATION, EXPLANATION_ATTRIBUTIONS, EXPLANATION_META, EXPLANATION_PROGRESS
from .settings import ExplainSettings

ROLES = (CHAMPION, CHALLENGER)
EXAMPLES = 5  # disagreements told in words in a report and `gate --json`
METHOD = ("shap {version} PermutationExplainer through each served endpoint: an independent (interventional) "
          "masker over the background, {permutations} antithetic permutation(s) per row; each model's "
          "attributions sum to its output minus the background's mean output")


@dataclass(frozen=True)
class Explanation:
    status: str  # running, finished, stopped (time limit), cancelled, failed
    reason: str
    settings: ExplainSettings
    features: tuple[str, ...]
    method: str = ""
    background: str = ""
    sample: str = ""
    outputs: dict = field(default_factory=dict)  # role -> output names, in words
    kinds: dict = field(default_factory=dict)  # role -> prediction, probability or vote
    classes: dict = field(default_factory=dict)  # role -> the class each output is about (classifiers)
    requests_sent: dict = field(default_factory=dict)  # role -> extra requests the explanation sent
    rows_sent: dict = field(default_factory=dict)  # role -> masked rows in them
    seconds: float = 0.0
    attributions: pd.DataFrame = field(default_factory=pd.DataFrame)
    _comparisons: dict = field(default_factory=dict, init=False, repr=False, compare=False)  # output -> computed

    # -- what was explained -------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return self.status in ("finished", "stopped", "cancelled") and not self.attributions.empty

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(self.outputs.get(CHAMPION, ()))

    @property
    def rows_explained(self) -> int:
        if self.attributions.empty:
            return 0
        per_role = self.attributions.groupby("role")["request_id"].nunique()
        return int(per_role.min()) if set(ROLES) <= set(per_role.index) else 0

    def extra_requests_per_row(self, role: str) -> float:
        rows = self.rows_explained
        return self.requests_sent.get(role, 0) / rows if rows else float("nan")

    def masked_rows_per_row(self, role: str) -> float:
        rows = self.rows_explained
        return self.rows_sent.get(role, 0) / rows if rows else float("nan")

    @property
    def comparable(self) -> str:
        """"" when the two models' outputs mean the same thing, else why their magnitudes differ."""
        if self.kinds.get(CHAMPION) != self.kinds.get(CHALLENGER):
            return (f"The champion's output is its {self.kinds.get(CHAMPION)} and the challenger's its "
                    f"{self.kinds.get(CHALLENGER)}: compare their rankings, not their sizes.")
        return ""

    # -- global --------------------------------------------------------------------------------
    def _matrices(self, output: int) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
        rows = self.attributions[self.attributions["output"] == output]
        by_role = {role: rows[rows["role"] == role].set_index("request_id") for role in ROLES}
        common = by_role[CHAMPION].index.intersection(by_role[CHALLENGER].index)
        frame = by_role[CHAMPION].loc[common]
        return frame, {role: by_role[role].loc[common, list(self.features)].to_numpy(float) for role in ROLES}

    def comparison(self, output: int = 0) -> AttributionComparison | None:
        """Both models' global attributions for one output (its bootstrap computed once); None
        before any row is explained."""
        if output not in self._comparisons:
            self._comparisons[output] = self._compare(output)
        return self._comparisons[output]

    def _compare(self, output: int) -> AttributionComparison | None:
        if self.attributions.empty or output >= len(self.output_names):
            return None
        frame, matrices = self._matrices(output)
        if frame.empty:
            return None
        return compare_attributions(matrices[CHAMPION], matrices[CHALLENGER], list(self.features),
                                    self.output_names[output], frame["weight"].to_numpy(float),
                                    frame["stratum"].to_numpy(), seed=self.settings.seed)

    def headline(self, output: int = 0) -> str:
        comparison = self.comparison(output)
        if comparison is None:
            return f"No explanation yet: {self.reason or self.status}."
        ci = comparison.ndcg_interval
        moved = comparison.biggest_shifts(1).iloc[0]
        verdict = ("ranks the features differently from the champion" if comparison.ndcg < CLARIFY_NDCG
                   else "ranks the features much as the champion does")
        shift = (f"{moved['feature']}'s share of its explanation went from {moved['champion_share']:.0%} to "
                 f"{moved['challenger_share']:.0%} ({moved['share_shift'] * 100:+.0f} points, 95% CI "
                 f"{moved['shift_low'] * 100:+.0f} to {moved['shift_high'] * 100:+.0f})")
        return (f"Explaining {comparison.output}, the challenger {verdict}: nDCG {comparison.ndcg:.2f} (95% CI "
                f"{ci.low:.2f} to {ci.high:.2f}; SageMaker Clarify flags below {CLARIFY_NDCG}). Its top features are "
                f"{', '.join(comparison.top(CHALLENGER))}; the champion's {', '.join(comparison.top(CHAMPION))}. "
                f"The biggest move: {shift}.")

    # -- one row -----------------------------------------------------------------------------
    def explained_ids(self) -> list[str]:
        if self.attributions.empty:
            return []
        roles = self.attributions.groupby("request_id")["role"].nunique()
        return roles[roles == len(ROLES)].index.astype(str).tolist()

    def row(self, request_id: str, output: int | None = None) -> pd.DataFrame:
        """One request's attributions: one row per feature, a column per model. `output` None:
        each model's own answer's class where it has several outputs (more than two classes)."""
        mine = self.attributions[self.attributions["request_id"].astype(str) == str(request_id)]
        answers = self.answers(request_id)
        table = pd.DataFrame({"feature": list(self.features)})
        for role in ROLES:
            k = self.output_of(role, answers.get(role)) if output is None else output
            rows = mine[(mine["role"] == role) & (mine["output"] == k)]
            table[role] = rows[list(self.features)].iloc[0].to_numpy(float) if len(rows) else np.nan
        return table

    def output_of(self, role: str, answer: str | None) -> int:
        """The output that is a model's own answer's class (0 when it has one output)."""
        classes = list(self.classes.get(role, ()))
        return classes.index(answer) if len(classes) > 1 and answer in classes else 0

    def answers(self, request_id: str) -> dict[str, str]:
        rows = self.attributions[self.attributions["request_id"].astype(str) == str(request_id)]
        return {role: str(rows.loc[rows["role"] == role, "answer"].iloc[0]) for role in ROLES
                if (rows["role"] == role).any()}

    def row_sentence(self, request_id: str, output: int | None = None) -> str:
        """"the challenger (answered 1): loan_amount +0.21, age -0.12; the champion (answered 0): income +0.08"."""
        table, answers = self.row(request_id, output), self.answers(request_id)
        parts = []
        for role in (CHALLENGER, CHAMPION):
            values = table[role].to_numpy(float)
            if not np.isfinite(values).any():
                continue
            k = self.output_of(role, answers.get(role)) if output is None else output
            parts.append(f"the {role} (answered {_answer_text(answers.get(role, '?'))}): "
                         f"{row_reasons(values, list(self.features), self._toward(role, k, answers, values))}")
        return "; ".join(parts) if parts else "This request was not explained."

    def _toward(self, role: str, output: int, answers: dict, values: np.ndarray) -> float:
        """+1 when a higher output means the model's own answer, -1 when it means another."""
        classes = self.classes.get(role, ())
        if self.kinds.get(role) == "prediction" or output >= len(classes):
            return 1.0 if float(np.nansum(values)) >= 0 else -1.0
        return 1.0 if answers.get(role) == classes[output] else -1.0

    def as_dict(self, output: int = 0) -> dict:
        comparison = self.comparison(output)
        out = {"status": self.status, "reason": self.reason, "method": self.method, "background": self.background,
               "sample": self.sample, "settings": self.settings.as_dict(), "outputs": self.outputs,
               "rows_explained": self.rows_explained, "seconds": self.seconds,
               "extra_requests": dict(self.requests_sent), "extra_rows": dict(self.rows_sent),
               "extra_requests_per_row": {role: self.extra_requests_per_row(role) for role in ROLES}}
        if comparison is not None:
            out.update(output=comparison.output, ndcg=comparison.ndcg,
                       ndcg_interval=[comparison.ndcg_interval.low, comparison.ndcg_interval.high],
                       features=comparison.table.to_dict(orient="records"), headline=self.headline(output),
                       disagreements=[{"request_id": request_id, "why": self.row_sentence(request_id)}
                                      for request_id in self.disagreement_ids()[:EXAMPLES]])
            if self.disagreement_ids():
                first = self.disagreement_ids()[0]
                out["example"] = {"request_id": first, "attributions": self.row(first).to_dict("records")}
        return out

    def disagreement_ids(self) -> list[str]:
        """The explained disagreements, in the order they were explained."""
        if self.attributions.empty:
            return []
        rows = self.attributions[self.attributions["stratum"] == "disagreement"]
        explained = set(self.explained_ids())
        return [i for i in dict.fromkeys(rows["request_id"].astype(str)) if i in explained]


def _answer_text(answer: str) -> str:
    """A regression's answer to four significant figures; a class as it is."""
    try:
        value = float(answer)
    except ValueError:
        return answer
    return answer if value.is_integer() and "." not in answer else f"{value:.4g}"


# -- the files ---------------------------------------------------------------------------------
def explanation_folder(run_folder: Path) -> Path:
    return run_folder / EXPLANATION


def write_meta(run_folder: Path, meta: dict) -> None:
    folder = explanation_folder(run_folder)
    folder.mkdir(exist_ok=True)
    atomic_write(folder / EXPLANATION_META, json.dumps(meta, indent=2, default=str).encode())


def read_meta(run_folder: Path) -> dict | None:
    path = explanation_folder(run_folder) / EXPLANATION_META
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise RunError(f"The explanation of run {run_folder.name} cannot be read: {exc}",
                       hint="Explain the run again; the old explanation's files are replaced.") from exc


def write_progress(run_folder: Path, done: dict[str, int], total: int) -> None:
    atomic_write(explanation_folder(run_folder) / EXPLANATION_PROGRESS,
                 json.dumps({"done": done, "total": total}).encode())


def read_progress(run_folder: Path) -> dict:
    path = explanation_folder(run_folder) / EXPLANATION_PROGRESS
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {"done": {}, "total": 0}


def load_explanation(run_folder: Path) -> Explanation | None:
    """The run's stored explanation, None when it has never been explained."""
    meta = read_meta(run_folder)
    if meta is None:
        return None
    path = explanation_folder(run_folder) / EXPLANATION_ATTRIBUTIONS
    attributions = pd.read_parquet(path) if path.exists() else pd.DataFrame()
    return Explanation(status=meta.get("status", "failed"), reason=meta.get("reason", ""),
                       settings=ExplainSettings.from_dict(meta.get("settings", {})),
                       features=tuple(meta.get("features", ())), method=meta.get("method", ""),
                       background=meta.get("background", ""), sample=meta.get("sample", ""),
                       outputs={role: tuple(names) for role, names in meta.get("outputs", {}).items()},
                       kinds=meta.get("kinds", {}), classes=meta.get("classes", {}),
                       requests_sent=meta.get("requests_sent", {}), rows_sent=meta.get("rows_sent", {}),
                       seconds=float(meta.get("seconds", 0.0)), attributions=attributions)
