"""Bad input through the command line: refused with exit 2 and one line on stderr, before any
server starts; late labels attached to a finished run with `python -m staging labels`, the
outcome column mapped when it is not named after the model's target."""

import gzip
import io
import json
import subprocess
import sys
import time

import pandas as pd
import psutil
import pyarrow as pa
import pyarrow.parquet as pq
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


def watched(*args, home) -> tuple[subprocess.CompletedProcess, list[str]]:
    """The command run to its end, and every model server process it started meanwhile (each of
    its descendants, listed every 20 ms, whose command line serves a model)."""
    process = subprocess.Popen([sys.executable, "-m", "staging", *args, "--home", str(home.root)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    servers: set[str] = set()
    parent = psutil.Process(process.pid)
    while process.poll() is None:
        try:
            for child in parent.children(recursive=True):
                line = " ".join(child.cmdline())
                if any(word in line for word in ("models serve", "mlserver", "uvicorn", "gunicorn", "docker run")):
                    servers.add(line[:200])
        except psutil.Error:
            pass
        time.sleep(0.02)
    out, err = process.communicate(timeout=60)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err), sorted(servers)


def _traffic(**change) -> pd.DataFrame:
    frame = pd.read_parquet(CREDIT.file("traffic")).head(40)
    for column, value in change.items():
        if value is None:
            frame = frame.drop(columns=column)
        else:
            frame[column] = value
    return frame


def _durations() -> bytes:
    table = pa.Table.from_pandas(_traffic(timestamp=None), preserve_index=False)
    table = table.append_column("timestamp", pa.array(range(table.num_rows), pa.duration("s")))
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


REFUSALS = {  # what is wrong -> (file name, its bytes, the command's other arguments, words the refusal says)
    "every row quarantined": ("no-ids.csv", _traffic(request_id="").to_csv(index=False).encode(), [],
                              "was quarantined"),
    "unparseable times": ("bad-times.csv", _traffic(timestamp="not a time").to_csv(index=False).encode(), [],
                          "was quarantined"),
    "timed as recorded without times": ("no-times.csv", _traffic(timestamp=None).to_csv(index=False).encode(),
                                        ["--timing", "recorded"], "no timestamps"),
    "durations for times": ("durations.parquet", _durations(), [], "durations"),
    "an integer past 64 bits everywhere": ("huge.csv", _traffic(loan_term_months="9" * 30).to_csv(index=False)
                                           .encode(), [], "loan_term_months"),
    "labels without ids": ("ok.csv", _traffic().to_csv(index=False).encode(), ["--labels", "LABELS"],
                           "no request id column"),
    "a reference without the inputs": ("ok.csv", _traffic().to_csv(index=False).encode(), ["--reference", "REFERENCE"],
                                       "lacks the model's inputs"),
    "an A/B key that is no column": ("ok.csv", _traffic().to_csv(index=False).encode(),
                                     ["--mode", "ab", "--split-key", "customer"], "split key"),
}


@pytest.mark.parametrize("what", sorted(REFUSALS) + ["a broken team policy"])
def test_every_refusal_comes_before_any_server_process_exists(demo_home, tmp_path, what):
    name, data, extra, words = REFUSALS.get(what) or ("ok.csv", _traffic().to_csv(index=False).encode(), [],
                                                       "unknown key 'max_p95'")
    policy = demo_home.root / "policies" / f"{CREDIT.model_name}.toml"
    if what == "a broken team policy":  # the model's own policy, misspelt: refused before the servers too
        policy.parent.mkdir(exist_ok=True)
        policy.write_text("[latency]\nmax_p95 = 2\n")
    path = tmp_path / name
    path.write_bytes(data)
    (tmp_path / "labels.csv").write_text("outcome\n1\n0\n")
    (tmp_path / "reference.csv").write_text("a,b\n1,2\n")
    extra = [str(tmp_path / "labels.csv") if a == "LABELS" else str(tmp_path / "reference.csv") if a == "REFERENCE"
             else a for a in extra]
    try:
        out, servers = watched("replay", "--model", CREDIT.model_name, "--traffic", str(path), "--backend",
                               "process", *extra, home=demo_home)
    finally:
        policy.unlink(missing_ok=True)
    assert out.returncode == 2, out.stderr[-2000:]
    assert out.stderr.startswith("error: ") and out.stderr.count("\n") == 1 and words in out.stderr, out.stderr
    assert servers == [], servers


def test_the_process_list_sees_the_servers_a_good_replay_starts(demo_home, tmp_path):
    """The control for the test above: the same listing catches both servers of a replay that runs."""
    path = tmp_path / "ok.csv"
    _traffic().to_csv(path, index=False)
    out, servers = watched("replay", "--model", CREDIT.model_name, "--traffic", str(path), "--backend", "process",
                           "--requests", "5", home=demo_home)
    assert out.returncode in (0, 1), out.stderr[-2000:]
    assert len(servers) >= 2, servers


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
