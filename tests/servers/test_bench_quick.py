"""The benches that need model servers, a Docker engine or a browser, each run in its quick mode
(small sizes, nothing kept in bench/results): every key its kept figures hold is still printed,
but those its quick mode does not measure (a second backend, a stated load, an older checkout)."""

import json
import os
import subprocess
import sys

import pytest
from support import BENCHES_ON_SERVERS, ROOT

pytestmark = pytest.mark.servers


@pytest.mark.parametrize("bench", sorted(BENCHES_ON_SERVERS))
def test_a_bench_on_servers_in_its_quick_mode_prints_every_key(bench):
    out = subprocess.run([sys.executable, str(ROOT / "bench" / f"{bench}.py"), "--quick"], cwd=ROOT,
                         capture_output=True, text=True, timeout=900, env={**os.environ, "BENCH_QUICK": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    kept = set(json.loads((ROOT / "bench" / "results" / f"{bench}.json").read_text())["figures"])
    assert sorted(kept - BENCHES_ON_SERVERS[bench] - set(figures)) == []
