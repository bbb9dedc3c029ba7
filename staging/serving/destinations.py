"""Where the sandbox may send production traffic: the allow-list of endpoint hosts.

The endpoint backend POSTs recorded requests (production data) to URLs a user types, so a URL
is accepted only when:

- its scheme is http or https, with no user name or password in it (credentials in a URL
  would be written into the run's manifest and logs; give a token in STAGING_ENDPOINT_TOKEN);
- its host is on the allow-list, compared exactly after normalising (lower case; an IP address
  in its canonical form, so `0x7f.1` or `2130706433` is not loopback in disguise);
- its path is empty, or exactly a V2 model's (`/v2/models/NAME`, optionally `/versions/V`),
  with no query, fragment, `..`, `%`-escape or backslash, so that no other route (say the app's
  own `/_stcore/health?q=`) can be reached by appending `/ping` or `/invocations`.

The allow-list is loopback (127.0.0.1, localhost, ::1) plus what the user adds: the
STAGING_ALLOWED_HOSTS setting, `--allow-host` on the command line, or the Environment page.
Redirects are never followed (see `endpoints` and the replay engine), so an allowed host
cannot bounce the traffic elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from ..errors import ConfigurationError
from ..settings import normal_host

V2_NAME = r"[A-Za-z0-9_\-][A-Za-z0-9_.\-]*"  # never `.` or `..`
V2_PATH = re.compile(rf"/v2/models/{V2_NAME}(/versions/{V2_NAME})?")


def check_endpoint_url(url: str, allowed: Iterable[str], role: str = "endpoint") -> str:
    """The URL as the sandbox will use it (no trailing slash), or a ConfigurationError saying
    what is wrong with it and what to do."""
    text = (url or "").strip()
    expected = "http://HOST:PORT, or a V2 model's http://HOST:PORT/v2/models/NAME"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError(f"The {role} URL '{text}' cannot be read ({exc}).", hint=f"Give {expected}.") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"The {role} URL '{text}' is not an http(s) address.", hint=f"Give {expected}.")
    if parts.username is not None or parts.password is not None:
        raise ConfigurationError(f"The {role} URL holds a user name or password, which would be written into the "
                                 "run's records.", hint="Remove it from the URL and set STAGING_ENDPOINT_TOKEN "
                                                        "instead (sent as a bearer token, never written down).")
    path = parts.path.rstrip("/")
    if parts.query or parts.fragment or text.endswith(("?", "#")) or "\\" in text or "%" in text \
            or (path and not V2_PATH.fullmatch(path)):
        rest = text.split(parts.netloc, 1)[-1]
        raise ConfigurationError(
            f"The {role} URL '{text}' has more after its host ('{rest}') than a model server's base address.",
            hint=f"Give {expected}: the sandbox itself adds /ping and /invocations (or /ready and /infer).")
    host = normal_host(parts.hostname)
    hosts = tuple(normal_host(h) for h in allowed)
    if host not in hosts:
        raise ConfigurationError(
            f"The {role} host '{host}' is not on the endpoint allow-list ({', '.join(hosts)}), so no traffic is sent "
            "to it.", hint="If it is yours, add it: STAGING_ALLOWED_HOSTS, --allow-host, or the Environment page.")
    netloc = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{netloc}{f':{port}' if port else ''}{path}"


def destination(url: str) -> str:
    """Where traffic goes for a base URL, in words for the page: the request and its target."""
    is_v2 = "/v2/models/" in url
    return f"POST {url}/infer" if is_v2 else f"POST {url}/invocations"


def check_notify_url(url: str, allowed: Iterable[str]) -> str:
    """An outgoing webhook (Slack's incoming-webhook shape) the watcher may post verdicts to: http(s),
    no user name or password, its host on the same allow-list as traffic. Its path may be anything
    (Slack's holds the hook's secret), so errors name the host only, never the whole URL."""
    text = (url or "").strip()
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - a bad port raises here
    except ValueError:
        raise ConfigurationError("The notification URL cannot be read.",
                                 hint="Give the incoming webhook's https://HOST/PATH in STAGING_NOTIFY_URL.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError("The notification URL is not an http(s) address.",
                                 hint="Give the incoming webhook's https://HOST/PATH in STAGING_NOTIFY_URL.")
    if parts.username is not None or parts.password is not None:
        raise ConfigurationError("The notification URL holds a user name or password.",
                                 hint="Use the incoming webhook's own URL, with no credentials in it.")
    host = normal_host(parts.hostname)
    hosts = tuple(normal_host(h) for h in allowed)
    if host not in hosts:
        raise ConfigurationError(f"The notification host '{host}' is not on the allow-list ({', '.join(hosts)}), "
                                 "so no verdict is posted to it.",
                                 hint="If it is yours, add it: STAGING_ALLOWED_HOSTS or --allow-host.")
    return text
