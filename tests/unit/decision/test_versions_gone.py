"""A run whose model versions have left the registry (bench/compare_page.py writes one, with no
registry at all): `gate` still judges it on its evidence, exit 0 or 1, with the artifact scan
"not evaluated" and why in words; a promotion from it is refused in that same sentence."""

import json
import subprocess
import sys

from support import ROOT

sys.path.insert(0, str(ROOT / "bench"))  # a bench's helper: a run written as a replay writes one
from compare_page import build_run

from staging import Sandbox, SandboxHome
from staging.errors import PromotionError


def test_the_gate_judges_a_run_whose_versions_are_gone_and_a_promotion_is_refused(tmp_path):
    home = SandboxHome(tmp_path / "home")
    run_id = build_run(home, 2000)
    out = subprocess.run([sys.executable, "-m", "staging", "gate", "--model", "credit-default", "--run", run_id,
                          "--home", str(home.root), "--json"], capture_output=True, text=True, timeout=300)
    assert out.returncode in (0, 1), out.stderr[-2000:]
    checks = {check["name"]: check for check in json.loads(out.stdout)["checks"]}
    scan = next(check for name, check in checks.items() if "scan" in name)
    assert scan["status"] == "not evaluated", scan
    assert "Version 1 of credit-default is no longer in the registry" in scan["sentence"], scan
    with Sandbox(home, backend="process") as box:
        try:
            box.promote(box.evidence(run_id), "rita", "looks right", True, override=True)
        except PromotionError as refused:
            assert "no longer in the registry, so it cannot be promoted" in str(refused)
        else:
            raise AssertionError("a promotion of a version that is gone went through")
