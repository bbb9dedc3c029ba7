"""One job of the watcher's queue, run to a verdict on a `Sandbox`, as a person would on the CLI.

The versions are pinned first (the champion @champion points at now, the challenger the job
names, or @challenger's for a scheduled job), so an alias that moves during the run cannot
change what is compared. Every input is then read and checked (`prepare_replay`) before any
server starts; the servers start, the traffic is replayed, and the gate judges the evidence
under the model's policy. The report is written and published, a `gated` record is sealed into
the audit chain, and the challenger's version is tagged with the verdict. Nothing is promoted.
A job superseded while it runs is cancelled between steps (`Superseded`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from ..errors import ConfigurationError
from ..refs import ModelRef
from ..roles import CHALLENGER, CHAMPION
from ..runs.settings import ReplaySettings
from ..sandbox import Sandbox
from ..traffic.selection import TrafficSelection
from ..watch import Job, WatchRule

WATCHER = "watcher"  # who the audit record names: no person signed this


class Superseded(Exception):
    """The job was superseded by a newer one while it ran, and stopped."""


@dataclass(frozen=True)
class Compared:
    """What a finished comparison reached."""

    champion: str
    challenger: str
    status: str
    headline: str
    run_id: str
    report: str
    record_id: str


def versions_for(box: Sandbox, rule: WatchRule, job: Job) -> tuple[str, str]:
    """(champion, challenger) versions to compare, or one sentence on why there are none."""
    aliases = box.aliases(rule.model)
    champion = aliases.get(CHAMPION)
    if not champion:
        raise ConfigurationError(f"'{rule.model}' has no @champion to compare a challenger against.",
                                 hint="Point @champion at the version in production.")
    challenger = job.version or aliases.get(CHALLENGER)
    if not challenger:
        raise ConfigurationError(f"'{rule.model}' has no @challenger to compare.",
                                 hint="Point @challenger at the version to judge.")
    if challenger == champion:
        raise ConfigurationError(f"v{challenger} of '{rule.model}' is the champion itself; there is nothing to compare.",
                                 hint="Point @challenger at another version.")
    return champion, challenger


def selection_for(rule: WatchRule) -> TrafficSelection:
    """The rule's window (the last N hours up to now, in UTC) and sample."""
    if rule.window_hours is None:
        return TrafficSelection(sample_size=rule.requests)
    now = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")
    return TrafficSelection(sample_size=rule.requests, start=now - pd.Timedelta(hours=rule.window_hours), end=now)


def run_comparison(box: Sandbox, rule: WatchRule, job: Job, settings: ReplaySettings, cancelled: threading.Event,
                   on_run: Callable[[str], object], log: Callable[[str], None],
                   runtimes: dict[str, str] | None = None, trust: tuple[str, ...] = ()) -> Compared:
    """The job run to a verdict, recorded and tagged; `on_run` hears the run id once it exists."""
    champion, challenger = versions_for(box, rule, job)

    def check() -> None:
        if cancelled.is_set():
            raise Superseded()

    box.pin_versions(rule.model, {CHAMPION: champion, CHALLENGER: challenger})
    try:
        policy = box.policy_for(rule.model, rule.policy)  # a bad policy is refused before anything is read
        log(f"{rule.model}: v{challenger} against v{champion}: reading and checking {rule.traffic}")
        prepared = box.prepare_replay(rule.model, rule.traffic, selection_for(rule), settings,
                                      rule.labels, rule.reference, progress=log)
        check()
        log(f"{rule.model}: starting both servers ({box.backend_notice})")
        box.start_servers(rule.model, progress=lambda role, message: log(f"{role}: {message}"), runtimes=runtimes,
                          trust=trust)
        check()
        handle = box.begin_replay(prepared)
        on_run(handle.run_id)
        log(f"{rule.model}: replaying {len(prepared.requests):,} requests as run {handle.run_id}")
        while not handle.done:
            if cancelled.is_set():
                box.cancel_replay()
                handle.wait(30)
                raise Superseded()
            time.sleep(0.25)
        if handle.error is not None:
            raise handle.error
        evidence = box.evidence(handle.run_id)
        verdict = box.gate(evidence, policy)
        files = box.report(evidence, policy)
        report = box.publish_report(evidence, files)
        how = f"webhook delivery {job.delivery_id}" if job.delivery_id else f"{job.trigger} comparison"
        record = box.record_gated(evidence, verdict, WATCHER, f"Compared by the watcher on a {how}.",
                                  files.as_record())
        box.tag_verdict(ModelRef(rule.model, challenger), verdict.status, verdict.headline(), handle.run_id, report)
        return Compared(champion, challenger, verdict.status, verdict.headline(), handle.run_id, report, record.id)
    finally:
        box.pin_versions(rule.model, None)
        box.stop_servers()
