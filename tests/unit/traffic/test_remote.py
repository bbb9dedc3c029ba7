"""Object storage read through fsspec's in-memory filesystem (the same code as `s3://`): a prefix
joined in order with one CSV header, KServe logger objects timed by the object, a SageMaker hourly
tree listed only inside the window, the copy kept by the objects' ETags, and bad URLs refused."""

import json
from datetime import UTC, datetime

import fsspec
import pytest

from staging.errors import TrafficError
from staging.traffic.remote import fetch, is_remote


@pytest.fixture
def bucket():
    fs = fsspec.filesystem("memory")
    root = f"/bucket-{id(fs)}"
    yield fs, root
    fs.rm(root, recursive=True) if fs.exists(root) else None


def test_urls_are_told_from_paths():
    assert is_remote("s3://b/k") and is_remote("memory://b/") and is_remote("gs://x/y")
    assert not is_remote("/tmp/traffic.csv") and not is_remote("file:///tmp/x.csv") and not is_remote(None)


def test_a_prefix_is_joined_in_order_with_one_header(bucket, tmp_path):
    fs, root = bucket
    fs.pipe(f"{root}/csv/1.csv", b"a,b\n1,2\n")
    fs.pipe(f"{root}/csv/2.csv", b"a,b\n3,4")
    fs.pipe(f"{root}/logs/a.jsonl", b'{"x": 1}\n')
    fs.pipe(f"{root}/logs/b.jsonl", b'{"x": 2}')
    assert fetch(f"memory:/{root}/csv/", tmp_path).path.read_text() == "a,b\n1,2\n3,4\n"
    fetched = fetch(f"memory:/{root}/logs/", tmp_path)
    assert fetched.path.read_text() == '{"x": 1}\n{"x": 2}\n' and len(fetched.objects) == 2
    assert fetch(f"memory:/{root}/logs/", tmp_path).path == fetched.path  # kept: the same objects, not fetched again


def test_reading_says_how_far_it_has_got_and_parquet_goes_a_row_group_at_a_time(bucket, tmp_path):
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    fs, root = bucket
    for part in range(3):
        table = pa.Table.from_pandas(pd.DataFrame({"a": range(part * 100, part * 100 + 100)}), preserve_index=False)
        with fs.open(f"{root}/pq/{part}.parquet", "wb") as handle:
            pq.write_table(table, handle, row_group_size=25)  # four row groups an object
    said: list[str] = []
    fetched = fetch(f"memory:/{root}/pq/", tmp_path, progress=said.append)
    assert pd.read_parquet(fetched.path)["a"].tolist() == list(range(300))
    assert said and said[-1].startswith("read ") and "(3 object(s))" in said[-1]
    done, _, total = said[-1].removeprefix("read ").split(" MB")[0].partition(" of ")
    assert done == total


def test_kserve_logger_objects_are_timed_by_the_object(bucket, tmp_path):
    fs, root = bucket
    fs.pipe(f"{root}/kserve/req-1.json", json.dumps({"instances": [[1, 2]]}).encode())
    fetched = fetch(f"memory:/{root}/kserve/", tmp_path)
    record = json.loads(fetched.path.read_text())
    assert record["body"] == {"instances": [[1, 2]]} and record["request_id"] == "req-1" and record["timestamp"]
    assert "last-modified" in fetched.note


def test_an_hourly_tree_is_listed_only_inside_the_window(bucket, tmp_path):
    fs, root = bucket
    for hour in (9, 10, 11):
        fs.pipe(f"{root}/cap/2026/10/05/{hour:02d}/c.jsonl", f'{{"h": {hour}}}\n'.encode())
    window = (datetime(2026, 10, 5, 10, 0, tzinfo=UTC), datetime(2026, 10, 5, 10, 59, tzinfo=UTC))
    fetched = fetch(f"memory:/{root}/cap/", tmp_path, window)
    assert [o.key.split("/")[-2] for o in fetched.objects] == ["10"] and fetched.path.read_text() == '{"h": 10}\n'


@pytest.mark.parametrize("setup, url, words", [
    (lambda fs, root: None, "memory:/{root}/nothing/", "There is no object at"),
    (lambda fs, root: fs.pipe(f"{root}/mixed/a.csv", b"a\n1\n") or fs.pipe(f"{root}/mixed/b.txt", b"x"),
     "memory:/{root}/mixed/", "not all of one kind"),
])
def test_bad_urls_are_refused_in_one_sentence(bucket, tmp_path, setup, url, words):
    fs, root = bucket
    setup(fs, root)
    with pytest.raises(TrafficError) as refused:
        fetch(url.format(root=root), tmp_path)
    assert words in str(refused.value) and refused.value.hint


def test_a_policy_may_live_in_object_storage(bucket, tmp_path):
    from staging import Sandbox, SandboxHome

    fs, root = bucket
    fs.pipe(f"{root}/policies/strict.toml", b'name = "strict from the bucket"\nmin_labelled = 500\n')
    box = Sandbox(SandboxHome(tmp_path / "home"), backend="process")
    policy = box.policy_for("credit-default", f"memory:/{root}/policies/strict.toml")
    assert policy.name == "strict from the bucket" and policy.min_labelled == 500
