"""Bad input through the command line: refused with exit 2 and one line on stderr, before any
server starts; late labels attached to a finished run with `python -m staging labels`, the
outcome column mapped when it is not named after the model's target."""

import gzip
import json
import subprocess
import sys

import pandas as pd
import pytest

from staging.registry.scenarios import CREDIT


def staging(*args, home) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "staging", *args, "--home", str(home.root)], capture_output=True,
                          text=True, timeout=300)


BAD_FILES = {
    "truncated.csv.gz": gzip.compress(b"age,income\n30,1\n")[:12],
    "not-gzip.jsonl.gz": b'{"age": 1}\n',
    "latin1.jsonl": '{"age": 3, "housing": "\xe9"}\n'.encode("latin-1"),
    "nested.jsonl": b"[" * 100_000,
    "outputs-only.jsonl": json.dumps({"captureData": {"endpointOutput": {"data": "0.1", "encoding": "CSV"}},
                                      "eventMetadata": {"eventId": "e"}}).encode() + b"\n",
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_traffic_is_refused_in_one_line_before_any_server_starts(demo_home, tmp_path, name):
    path = tmp_path / name
    path.write_bytes(BAD_FILES[name])
    out = staging("replay", "--model", CREDIT.model_name, "--traffic", str(path), "--backend", "process",
                  home=demo_home)
    assert out.returncode == 2, out.stderr[-2000:]
    assert out.stderr.startswith("error: ") and out.stderr.count("\n") == 1, out.stderr
    assert "starting" not in out.stderr and "Traceback" not in out.stderr


def test_late_labels_attach_to_a_finished_run_with_the_outcome_column_named(demo_home, finished_run, tmp_path):
    labels = pd.read_parquet(CREDIT.file("labels")).rename(columns={CREDIT.target: "outcome"})
    path = tmp_path / "late.csv"
    labels.to_csv(path, index=False)
    refused = staging("labels", str(path), "--run", finished_run, home=demo_home)
    assert refused.returncode == 2 and "--label-column" in refused.stderr and refused.stderr.count("\n") == 1
    out = staging("labels", str(path), "--run", finished_run, "--label-column", "outcome", "--json", home=demo_home)
    assert out.returncode == 0, out.stderr[-2000:]
    facts = json.loads(out.stdout)
    assert facts["matched"] > 300 and facts["labelled"] == facts["matched"] and facts["column"] == "outcome"
    assert len(facts["sha256"]) == 64
