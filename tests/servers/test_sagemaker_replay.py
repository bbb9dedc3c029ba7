"""A SageMaker Data Capture log replayed through real model servers, joined to its ground truth."""

import pandas as pd
from support import capture, write_lines

from staging import TrafficSelection
from staging.registry.scenarios import CREDIT
from staging.replay import ReplaySettings


def test_a_sagemaker_capture_replays_with_its_ground_truth(sandbox, tmp_path):
    """Capture written as SageMaker writes it (CSV inputs in signature order, no header),
    replayed against real servers, with ground truth joined on inferenceId else eventId."""

    features = list(sandbox.prepare_traffic(CREDIT.model_name, CREDIT.file("traffic")).features)
    traffic = pd.read_parquet(CREDIT.file("traffic")).dropna().head(40)
    labels = pd.read_parquet(CREDIT.file("labels")).set_index("request_id")[CREDIT.target]
    captures, truths = [], []
    for number, (_, row) in enumerate(traffic.iterrows()):
        inference_id = row["request_id"] if number % 2 else None
        data = ",".join(str(row[f]) for f in features)
        captures.append(capture(f"ev-{number}", inference_id, data, "CSV", time=row["timestamp"].isoformat() + "Z"))
        if row["request_id"] in labels.index:
            meta = {"eventId": f"ev-{number}", **({"inferenceId": inference_id} if inference_id else {})}
            truths.append({"groundTruthData": {"data": str(labels[row["request_id"]]), "encoding": "CSV"},
                           "eventMetadata": meta, "eventVersion": "0"})
    traffic_path = write_lines(tmp_path / "capture.jsonl", captures)
    truth_path = write_lines(tmp_path / "ground_truth.jsonl", truths)
    handle = sandbox.begin_replay(CREDIT.model_name, traffic_path, TrafficSelection(),
                                  ReplaySettings(warmup_requests=0), labels_path=str(truth_path))
    handle.wait()
    manifest = sandbox.store.manifest(handle.run_id)
    assert manifest.status == "finished", manifest.end_reason
    assert "SageMaker Data Capture" in manifest.traffic.validation
    assert manifest.labels_path.endswith("labels.parquet")
    analysis = sandbox.evidence(handle.run_id)
    assert analysis.labelled == len(truths) and analysis.quality is not None
