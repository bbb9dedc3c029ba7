"""The Promote page's widgets: the policy in effect (and another one to try), the gate's
checks with their numbers, and the audit log as a table a reviewer reads."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ..decision.audit import Verification
from ..decision.record import AuditRecord
from ..errors import StagingError
from ..gate import FAILED, NOT_EVALUATED, NOT_YET, PASSED, WARNED, GatePolicy, GateVerdict, parse_policy
from ..registry.team import Credentials
from ..runs import RunManifest
from ..sandbox import Sandbox
from .common import show_error
from .display import escaped

AUDIT_COLUMNS = ["at", "action", "from_version", "to_version", "reviewer", "reason", "run_id", "gate", "override", "id"]
# Material icons, not emoji (which render as empty boxes without an emoji font); the same words as
# the card, the report, History and the command line
STATUS_MARKS = {PASSED: ":green[:material/check_circle: passed]", WARNED: ":orange[:material/warning: warned]",
                FAILED: ":red[:material/cancel: failed]", NOT_YET: ":violet[:material/hourglass_top: not yet]",
                NOT_EVALUATED: ":gray[:material/remove_circle_outline: not evaluated]"}
HEADLINES = {PASSED: "Gate: :green[passed]", WARNED: "Gate: :orange[passed with warnings]",
             FAILED: "Gate: :red[failed]", NOT_YET: "Gate: :violet[not yet]"}


def policy_picker(box: Sandbox, model: str) -> GatePolicy | None:
    """The model's policy, or another TOML file the reviewer uploads; None if that one is unusable."""
    upload = st.file_uploader("Judge under another policy (a TOML file)", type=["toml"], key="policy-file",
                              help="staging/gate/default.toml shows every setting. The policy in effect is kept, "
                                   "text and SHA-256, with the decision.")
    if upload is None:
        policy = box.policy_for(model)
    else:
        try:
            policy = parse_policy(upload.getvalue().decode("utf-8", errors="replace"), upload.name)
        except StagingError as exc:
            show_error(exc)
            return None
    st.caption(escaped(f"Policy: {policy.name} ({policy.source}) · SHA-256 {policy.sha256[:16]}…"))
    with st.expander("The policy's text"):
        st.code(policy.text, language="toml")
    return policy


def show_verdict(verdict: GateVerdict, manifest: RunManifest) -> None:
    """The verdict, then every check with its status and sentence, and its numbers on demand."""
    st.subheader(HEADLINES[verdict.status])  # the code's own colours
    st.text(verdict.headline())
    for check in verdict.checks:  # what blocks the promotion, in words, before the table
        if check.status == FAILED:
            st.error(escaped(f"{check.name}: {check.sentence}"), icon=":material/block:")
        elif check.status == NOT_YET:
            st.warning(escaped(f"{check.name}: {check.sentence}"), icon=":material/hourglass_top:")
    if manifest.split:
        st.info(escaped(f"This was a {'canary' if manifest.mode == 'canary' else 'A/B'} run: each request met one model, so "
                "its quality checks are unpaired (each model on its own requests) and wider than a shadow run's."))
    with st.container(border=True):  # every check's sentence in full, wrapped, none cut at a column's edge
        for check in verdict.checks:
            status, name, sentence = st.columns([1.2, 1.8, 6])
            status.markdown(STATUS_MARKS[check.status])
            name.text(check.name)
            sentence.text(check.sentence)
    with st.expander("The numbers behind each check"):
        st.json(verdict.as_dict()["checks"], expanded=False)


def audit_table(records: list[AuditRecord]) -> pd.DataFrame:
    """The audit records, newest first, with the columns a reviewer reads (the gate's verdict as a word)."""
    table = pd.DataFrame([{"at": r.at, "action": r.action, "from_version": r.from_version,
                           "to_version": r.to_version, "reviewer": r.reviewer, "reason": r.reason,
                           "run_id": r.run_id, "gate": r.gate_status, "override": "yes" if r.override else "",
                           "id": r.id} for r in records], columns=AUDIT_COLUMNS)
    return table.iloc[::-1]


def chain_state(verification: Verification) -> None:
    """The audit chain's state, in one line: verified, or the first thing wrong with it."""
    if verification.ok:
        st.success(escaped(f"Audit chain verified: {verification.sentence()}"), icon=":material/verified:")
    else:
        st.error(escaped(verification.sentence() + " Promotions and rollbacks are refused until it is explained."),
                 icon=":material/gpp_bad:")


@st.cache_data(show_spinner="Writing the offline report…", max_entries=8)
def _report_files(_box: Sandbox, run_id: str, status: str, ended_at: float | None, policy_text: str,
                  policy_source: str) -> tuple[bytes, bytes]:
    files = _box.report(_box.evidence(run_id), parse_policy(policy_text, policy_source))
    return files.html.read_bytes(), files.json.read_bytes()


def report_downloads(box: Sandbox, manifest: RunManifest, policy: GatePolicy) -> None:
    """The run's offline report (HTML, opens with no network) and its evidence file (JSON)."""
    html_bytes, json_bytes = _report_files(box, manifest.run_id, manifest.status, manifest.ended_at, policy.text,
                                           policy.source)
    left, right = st.columns(2)
    left.download_button("Download the report (HTML)", html_bytes, file_name=f"report-{manifest.run_id}.html",
                         mime="text/html", help="One self-contained file: it opens with no network, for a release "
                                                "ticket.")
    right.download_button("Download the evidence (JSON)", json_bytes, file_name=f"evidence-{manifest.run_id}.json",
                          mime="application/json")


def move_done(box: Sandbox, manifest: RunManifest) -> str | None:
    """A sentence when the registry's aliases no longer match this run (its move was made, or
    others moved since); None while the run's move is still on offer."""
    aliases = box.aliases(manifest.model_name)
    if (aliases.get("champion"), aliases.get("challenger")) == (manifest.champion.version, manifest.challenger.version):
        return None
    if aliases.get("champion") == manifest.challenger.version:
        return (f"This run's move is done: v{manifest.challenger.version} is the champion now. Roll back below, "
                "or replay a new challenger.")
    return (f"The aliases moved since this run (champion v{aliases.get('champion')}, challenger "
            f"v{aliases.get('challenger')}); replay again to judge the current pair.")


def signer_fields(box: Sandbox, key: str) -> tuple[str, str]:
    """The sign-off's identity widgets: a reviewer's name, or in team mode an MLflow user name and
    password (the record then names the user MLflow signed in). Returns (name, password)."""
    if not box.team_mode:
        return st.text_input("Reviewer", key=f"{key}-reviewer"), ""
    st.caption("Team mode: you sign as your MLflow user, and MLflow's permissions decide whether the alias may move.")
    name = st.text_input("MLflow user name", key=f"{key}-user")
    password = st.text_input("MLflow password", type="password", key=f"{key}-password")
    return name, password


def signer(box: Sandbox, name: str, password: str) -> Credentials | None:
    """The credentials a sign-off carries in team mode (None outside it)."""
    return Credentials(name, password) if box.team_mode else None

