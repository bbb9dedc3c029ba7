"""The verdict, posted where a team reads it: an outgoing webhook in Slack's incoming-webhook
shape (`{"text": …}`, with the facts beside it), only to a host on the allow-list, never by a
redirect. The URL (whose path is the hook's secret) is never logged: failures name the host."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import requests

from ..watch import SeriesPoint


def verdict_message(point: SeriesPoint) -> dict[str, str]:
    """The body: one sentence for people, the facts for machines, nothing secret."""
    text = (f"{point.model}: v{point.challenger} against champion v{point.champion}: {point.status.upper()}. "
            f"{point.headline}")
    if point.run_id:
        text += f" (run {point.run_id}"
        text += f", report {point.report})" if point.report else ")"
    return {"text": text, "model": point.model, "champion": point.champion, "challenger": point.challenger,
            "verdict": point.status, "headline": point.headline, "run": point.run_id, "report": point.report,
            "trigger": point.trigger, "at": point.at}


def post_verdict(url: str, point: SeriesPoint, log: Callable[[str], None], timeout_s: float = 10.0) -> bool:
    """POST the verdict; True when the hook answered 2xx. A failure is logged, never raised."""
    host = urlsplit(url).hostname or "?"
    try:
        answer = requests.post(url, json=verdict_message(point), timeout=timeout_s, allow_redirects=False)
    except requests.RequestException as exc:
        log(f"notify: the verdict could not be posted to {host}: {type(exc).__name__}")
        return False
    if not 200 <= answer.status_code < 300:
        log(f"notify: {host} answered {answer.status_code} to the verdict")
        return False
    return True
