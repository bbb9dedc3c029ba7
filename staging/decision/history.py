"""Who was champion when, and why: the champion's history read from the audit chain.

MLflow keeps no history of its aliases (mlflow#2169), so the sandbox's verified audit chain is
the record: each promotion or rollback opened a period in which one version was champion, with
who decided, why, under which verdict, and whether the gate was overridden. The last period is
checked against the registry's current alias.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from .record import PROMOTE, ROLLBACK, AuditRecord


@dataclass(frozen=True)
class ChampionPeriod:
    version: str
    since: str | None  # ISO time of the record that made it champion; None: before the first record
    until: str | None  # None: still champion, as far as the record goes
    action: str  # promote, rollback, or "before the records"
    reviewer: str = ""
    reason: str = ""
    verdict: str = ""  # the gate's status at promotion ("—" for a rollback)
    override: bool = False
    run_id: str = ""
    record_id: str = ""
    report: str = ""  # the decision report's path, when one was written


def champion_history(records: list[AuditRecord]) -> list[ChampionPeriod]:
    """The periods, oldest first, from one model's records in chain order."""
    periods: list[ChampionPeriod] = []
    for record in records:
        if record.action not in (PROMOTE, ROLLBACK):
            continue
        if not periods:
            periods.append(ChampionPeriod(record.from_version, None, None, "before the records"))
        periods[-1] = replace(periods[-1], until=record.at)
        periods.append(ChampionPeriod(
            version=record.to_version, since=record.at, until=None, action=record.action, reviewer=record.reviewer,
            reason=record.reason, verdict=record.gate_status, override=record.override, run_id=record.run_id,
            record_id=record.id, report=record.report_html))
    return periods


def readable_time(stamp: str | None) -> str:
    """A record's ISO time as a person reads it: 2026-12-05 14:03 UTC."""
    if not stamp:
        return ""
    try:
        return f"{_utc(stamp):%Y-%m-%d %H:%M} UTC"
    except (ValueError, TypeError):
        return stamp


def _how(period: ChampionPeriod) -> str:
    if period.action == PROMOTE and period.override:
        return f"promoted over a {period.verdict} gate (override)"
    return {PROMOTE: "promoted", ROLLBACK: "rolled back"}.get(period.action, period.action)


def history_table(periods: list[ChampionPeriod]) -> pd.DataFrame:
    """Newest first, with the columns a reviewer reads: readable times, and an override said in words."""
    rows = [{"champion": f"v{p.version}", "from": readable_time(p.since) or "before the records",
             "until": readable_time(p.until) or "now", "how": _how(p), "who": p.reviewer, "why": p.reason,
             "gate": p.verdict, "run": p.run_id, "record": p.record_id} for p in periods]
    return pd.DataFrame(rows).iloc[::-1].reset_index(drop=True)


def champion_as_of(periods: list[ChampionPeriod], when: pd.Timestamp) -> ChampionPeriod | None:
    """The period that held at `when` (None before the first recorded champion is known)."""
    stamp = _utc(when)
    for period in reversed(periods):
        if period.since is None or _utc(period.since) <= stamp:
            return period
    return None


def consistency(periods: list[ChampionPeriod], current_champion: str | None) -> str | None:
    """A sentence when the registry's champion is not the one the record ends with; None when they agree."""
    if not periods or current_champion is None:
        return None
    if periods[-1].version != str(current_champion):
        return (f"The registry's champion is v{current_champion}, but the audit chain ends with v{periods[-1].version}: "
                "the alias was moved outside the sandbox.")
    return None


def _utc(value: Any) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
