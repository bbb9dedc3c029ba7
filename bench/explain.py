"""Why they differ, measured: an explanation of both demo credit models through their served
endpoints (processes), checked against two oracles that load the models locally (here only).

Prints one JSON line:
- explain_500_rows_s: wall time of one explanation of both models on 500 replayed requests
  (300 disagreements at most, the rest agreeing), 12 features, a 25-row background;
- linear_oracle_max_abs_error: the champion is a logistic regression; on the log-odds scale its
  exact SHAP values under an independent background are coefficient x (x - the background's
  mean) in its own encoded inputs, summed per input column. The largest gap over every
  explained row and feature;
- tree_ranking_ndcg_vs_shap: the challenger is gradient-boosted trees; the nDCG of the
  sandbox's global ranking against shap's own exact explainer on the locally loaded model
  (every coalition, the same background and rows, the margin), Clarify's formula. shap's
  TreeExplainer misreads this model (scikit-learn's histogram boosting with categorical splits:
  its additivity check fails), so its gap from the exact values is printed beside, not used;
- extra_requests_per_row: requests the explanation sent each model, per explained row.

`--quick` (CI): 20 rows on a 200-request run; the same keys. `--home`: an existing sandbox home
(its model environments are reused).
"""

from __future__ import annotations

import argparse
import pickle
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import publish
from staging import Sandbox
from staging.analytics.attribution import ndcg
from staging.explain.settings import ExplainSettings
from staging.home import SandboxHome
from staging.refs import ModelRef
from staging.registry.model_files import model_files
from staging.registry.scenarios import CREDIT
from staging.runs.folder import EXPLANATION, EXPLANATION_BACKGROUND
from staging.runs.settings import ReplaySettings
from staging.traffic.selection import TrafficSelection


def local_model(home: SandboxHome, version: str):
    """The demo pipeline itself (the bench's oracle only: the sandbox never loads model code)."""
    folder = model_files(home, ModelRef(CREDIT.model_name, version))
    return pickle.loads(next(folder.rglob("estimator.pkl")).read_bytes())


def linear_oracle(pipeline, background: pd.DataFrame, rows: pd.DataFrame, features: list[str]) -> np.ndarray:
    """Exact SHAP of a linear model's margin: per input column, the sum over its encoded columns of
    coefficient x (encoded value - the background's mean encoded value)."""
    encode, model = pipeline[:-1], pipeline[-1]
    names = encode.get_feature_names_out()
    coefficients = model.coef_[0]
    encoded_rows, encoded_background = (_dense(encode.transform(frame[features])) for frame in (rows, background))
    per_column = coefficients * (encoded_rows - encoded_background.mean(axis=0))
    out = np.zeros((len(rows), len(features)))
    for j, feature in enumerate(features):
        owned = [i for i, name in enumerate(names) if name.split("__", 1)[1] == feature
                 or name.split("__", 1)[1].startswith(feature + "_")]
        out[:, j] = per_column[:, owned].sum(axis=1)
    return out


def _dense(matrix) -> np.ndarray:
    """A transformer's output as a dense float array (one-hot encoders give sparse ones)."""
    return np.asarray(matrix.toarray() if hasattr(matrix, "toarray") else matrix, dtype=float)


def tree_oracle(pipeline, background: pd.DataFrame, rows: pd.DataFrame, features: list[str]) -> np.ndarray:
    """shap's own exact explainer on the boosted trees' margin, loaded locally: every coalition of
    the 12 inputs (2^12), the same independent background, the same rows."""
    import shap

    encode, model = pipeline[:-1], pipeline[-1]
    explainer = shap.explainers.Exact(model.decision_function, shap.maskers.Independent(
        np.asarray(encode.transform(background[features]), dtype=float), max_samples=len(background)))
    return np.asarray(explainer(np.asarray(encode.transform(rows[features]), dtype=float), silent=True).values)


def tree_explainer_gap(pipeline, background: pd.DataFrame, rows: pd.DataFrame, features: list[str],
                       exact: np.ndarray) -> float:
    """How far shap's TreeExplainer is from the exact values on this model: scikit-learn's
    histogram boosting with categorical splits is not read right by shap 0.51 (its additivity
    check fails), so the exact explainer is the oracle; the gap is printed to show why."""
    import shap

    encode, model = pipeline[:-1], pipeline[-1]
    explainer = shap.TreeExplainer(model, data=np.asarray(encode.transform(background[features]), dtype=float),
                                   feature_perturbation="interventional", model_output="raw")
    values = explainer.shap_values(np.asarray(encode.transform(rows[features]), dtype=float), check_additivity=False)
    return float(np.abs(np.asarray(values) - exact).max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--home", help="an existing sandbox home (default: a new one)")
    args = parser.parse_args()
    scratch = None if args.home else tempfile.TemporaryDirectory()
    home = SandboxHome.from_env(Path(args.home or scratch.name)).ensure()  # type: ignore[union-attr]
    requests_n, disagreements, others = (200, 12, 8) if args.quick else (2000, 300, 200)
    with Sandbox(home, backend="process") as box:
        box.load_demo()
        box.start_servers(CREDIT.model_name)
        handle = box.begin_replay(CREDIT.model_name, CREDIT.file("traffic"), TrafficSelection(sample_size=requests_n),
                                  ReplaySettings(concurrency=4))
        handle.wait()
        settings = ExplainSettings(disagreements=disagreements, others=others, scale="log-odds")
        started = time.perf_counter()
        explaining = box.start_explanation(box.check_explanation(handle.run_id, settings))
        explaining.wait()
        seconds = time.perf_counter() - started
        explanation = box.explanation(handle.run_id)
        assert explanation is not None and explanation.status == "finished", explanation and explanation.reason
        manifest = box.run(handle.run_id)
        folder = box.store.folder(handle.run_id)
        features = list(manifest.features)
        background = pd.read_parquet(folder / EXPLANATION / EXPLANATION_BACKGROUND)
        requests = box.store.requests(handle.run_id).assign(request_id=lambda f: f["request_id"].astype(str))
        attributions = explanation.attributions
        ours = {role: attributions[attributions["role"] == role].set_index("request_id")[features]
                for role in ("champion", "challenger")}
        ids = ours["champion"].index.intersection(ours["challenger"].index)
        rows = requests.set_index("request_id").loc[ids].reset_index()
        exact = linear_oracle(local_model(home, manifest.champion.version), background, rows, features)
        linear_error = float(np.abs(ours["champion"].loc[ids].to_numpy(float) - exact).max())
        challenger = local_model(home, manifest.challenger.version)
        trees = tree_oracle(challenger, background, rows, features)
        tree_gap = tree_explainer_gap(challenger, background, rows, features, trees)
        tree_ndcg = ndcg(np.abs(trees).mean(axis=0), np.abs(ours["challenger"].loc[ids].to_numpy(float)).mean(axis=0))
        per_row = {role: round(explanation.extra_requests_per_row(role), 2) for role in ("champion", "challenger")}
        figures = {"explain_500_rows_s": round(seconds, 1), "linear_oracle_max_abs_error": linear_error,
                   "tree_ranking_ndcg_vs_shap": round(tree_ndcg, 4),
                   "tree_max_abs_error_vs_shap_exact": round(float(np.abs(
                       ours["challenger"].loc[ids].to_numpy(float) - trees).max()), 4),
                   "shap_tree_explainer_max_abs_gap_vs_exact": round(tree_gap, 3),
                   "extra_requests_per_row": round(float(np.mean(list(per_row.values()))), 2),
                   "extra_requests_per_row_by_model": per_row,
                   "masked_rows_per_row": {role: round(explanation.masked_rows_per_row(role))
                                           for role in ("champion", "challenger")},
                   "rows_explained": explanation.rows_explained, "features": len(features),
                   "background_rows": len(background), "ndcg_champion_vs_challenger": round(
                       explanation.comparison(0).ndcg, 3)}  # type: ignore[union-attr]
    publish("explain", figures)
    if scratch is not None:
        scratch.cleanup()


if __name__ == "__main__":
    main()
