"""The Docker engine, narrowed to what the sandbox does with it: a proxy for compose.

Whoever holds the engine's socket is root on the host. In compose only this proxy mounts it;
the app reaches the engine through the proxy (DOCKER_HOST=tcp://engine-proxy:2375, on a network
only the two share) and runs as an unprivileged user. The proxy forwards a request only when
`decide` allows it:

- **the routes the sandbox calls**: ping and version; containers (create, start, stop,
  restart, wait, inspect, logs, stats, list, remove, copy files in); images (list, inspect,
  build, commit, import, remove, prune, disk usage); networks (list, inspect, remove). Anything
  else (exec, attach, volumes, swarm, plugins, events, the engine's configuration) is refused.
- **a container may be created only fenced in**: it carries the sandbox's label; no network
  (`none`); no privileges, added capabilities, devices or host namespaces; no seccomp or
  AppArmor opt-out; host folders mounted only from under the sockets folder (STAGING_SOCKET_DIR).
- **only the sandbox's own containers** (by label) may be started, stopped, read, copied into,
  committed or removed, and only its own images (`staging-sandbox/…`) removed.
- **builds run with no network.**

A refusal is an HTTP 403 whose message says what was refused and why; the docker SDK raises it
as an APIError, which the sandbox shows as it shows any engine failure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from dataclasses import dataclass
from urllib.parse import parse_qs

LABEL_PREFIX = "io.staging-sandbox"
OWN_IMAGES = "staging-sandbox/"
HOST_NAMESPACES = ("NetworkMode", "PidMode", "IpcMode", "UTSMode", "UsernsMode", "CgroupnsMode")
VERSION = re.compile(r"^/v\d+\.\d+")
CONTAINER = r"/containers/(?P<id>[^/]+)"

# (method, path pattern, what the request touches): "container" needs a sandbox-labelled
# container; "image" an image of the sandbox's own; None nothing of anyone else's.
ROUTES: list[tuple[str, re.Pattern, str | None]] = [
    (method, re.compile(f"^{pattern}$"), scope) for method, pattern, scope in [
        ("GET", "/_ping", None), ("HEAD", "/_ping", None), ("GET", "/version", None),
        ("GET", "/containers/json", None), ("POST", "/containers/create", None),
        ("GET", f"{CONTAINER}/json", "container"), ("GET", f"{CONTAINER}/logs", "container"),
        ("GET", f"{CONTAINER}/stats", "container"), ("POST", f"{CONTAINER}/start", "container"),
        ("POST", f"{CONTAINER}/stop", "container"), ("POST", f"{CONTAINER}/restart", "container"),
        ("POST", f"{CONTAINER}/kill", "container"), ("POST", f"{CONTAINER}/wait", "container"),
        ("PUT", f"{CONTAINER}/archive", "container"), ("DELETE", CONTAINER, "container"),
        ("POST", "/commit", "commit"),
        ("GET", "/images/json", None), ("GET", "/images/(?P<id>.+)/json", None), ("POST", "/build", "build"),
        ("POST", "/images/create", None), ("DELETE", "/images/(?P<id>.+)", "image"), ("POST", "/images/prune", None),
        ("POST", "/images/(?P<id>.+)/tag", "tag"),
        ("GET", "/system/df", None),
        ("GET", "/networks", None), ("GET", "/networks/(?P<id>[^/]+)", None),
        ("DELETE", "/networks/(?P<id>[^/]+)", "network"),
    ]
]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    why: str = ""
    scope: str | None = None  # what the proxy must look up on the engine before forwarding
    subject: str = ""


def refuse(why: str) -> Decision:
    return Decision(False, why)


def decide(method: str, path: str, query: str = "", body: bytes = b"", socket_dir: str = "") -> Decision:
    """Whether the sandbox may make this engine call, judged on the request alone (a `scope`
    asks the caller to check the subject's labels or tags on the engine too)."""
    bare = VERSION.sub("", path)
    found = next(((pattern.match(bare), scope) for route_method, pattern, scope in ROUTES
                  if route_method == method and pattern.match(bare)), None)
    if found is None:
        return refuse(f"the sandbox never calls {method} {bare}, so the proxy does not forward it")
    match, scope = found
    params = parse_qs(query)
    if bare == "/containers/create":
        return _judge_create(body, socket_dir)
    if scope == "build" and params.get("networkmode", [""])[0] != "none":
        return refuse("an image build must run with no network (networkmode=none)")
    if scope == "tag":  # a second name for one of its own images, in its own repositories only
        if not params.get("repo", [""])[0].startswith(OWN_IMAGES):
            return refuse("an image may be tagged only into the sandbox's own repositories (staging-sandbox/…)")
        return Decision(True, scope="image", subject=match.group("id") if match else "")
    if scope == "commit":
        return Decision(True, scope="container", subject=params.get("container", [""])[0])
    if bare == "/images/create" and params.get("fromImage") and not params.get("fromSrc"):
        return Decision(True)  # a pull; the sandbox tries python:3.11-slim before building its own base
    subject = match.groupdict().get("id", "") if match else ""
    return Decision(True, scope=scope if scope in ("container", "image", "network") else None, subject=subject)


def _judge_create(body: bytes, socket_dir: str) -> Decision:
    try:
        spec = json.loads(body or b"{}")
    except ValueError:
        return refuse("the container's specification is not JSON")
    labels = spec.get("Labels") or {}
    if not any(key.startswith(LABEL_PREFIX) for key in labels):
        return refuse(f"a container the sandbox makes carries a {LABEL_PREFIX} label; this one has none")
    host = spec.get("HostConfig") or {}
    if host.get("Privileged"):
        return refuse("a privileged container")
    if host.get("CapAdd"):
        return refuse(f"added capabilities ({', '.join(host['CapAdd'])})")
    if host.get("Devices") or host.get("DeviceRequests") or host.get("DeviceCgroupRules"):
        return refuse("host devices")
    if host.get("NetworkMode", "none") != "none" or spec.get("NetworkingConfig"):
        return refuse(f"a container with a network ({host.get('NetworkMode')}); model containers have none")
    for namespace in HOST_NAMESPACES[1:]:
        if str(host.get(namespace) or "").startswith(("host", "container:")):
            return refuse(f"sharing the {namespace[:-4].lower()} namespace with the host or another container")
    opt_outs = [opt for opt in host.get("SecurityOpt") or [] if "unconfined" in opt or opt.startswith("label=disable")]
    if opt_outs:
        return refuse(f"a security opt-out ({', '.join(opt_outs)})")
    sources = [bind.split(":", 1)[0] for bind in host.get("Binds") or []]
    sources += [mount.get("Source", "") for mount in host.get("Mounts") or []]
    root = os.path.realpath(socket_dir) if socket_dir else ""
    for source in sources:
        real = os.path.normpath(source)
        if not root or not (real + "/").startswith(root.rstrip("/") + "/") or real == root:
            return refuse(f"mounting {source} from the host; only a folder under {root or 'the sockets folder'} may be")
    if host.get("VolumesFrom") or host.get("VolumeDriver"):
        return refuse("volumes from elsewhere")
    return Decision(True)


def owned(scope: str, facts: dict) -> str:
    """'' when the engine's facts about the subject show it is the sandbox's; else why not."""
    if scope in ("container", "network"):
        labels = (facts.get("Config") or {}).get("Labels") or facts.get("Labels") or {}
        return "" if any(key.startswith(LABEL_PREFIX) for key in labels) else f"this {scope} is not the sandbox's"
    if scope == "image":
        tags = facts.get("RepoTags") or []
        return "" if all(tag.startswith(OWN_IMAGES) for tag in tags) else "this image is not the sandbox's"
    return ""


def serve(listen_host: str, listen_port: int, engine_socket: str, socket_dir: str) -> None:
    """Run the proxy until stopped (the compose service's command)."""
    import aiohttp
    from aiohttp import web

    lookups = {"container": "/containers/{}/json", "image": "/images/{}/json", "network": "/networks/{}"}

    async def handle(request: web.Request) -> web.StreamResponse:
        session: aiohttp.ClientSession = request.app["engine"]
        body = await request.read() if request.path.endswith(("/containers/create",)) else None
        decision = decide(request.method, request.path, request.query_string, body or b"", socket_dir)
        if decision.allowed and decision.scope:
            async with session.get(f"http://engine{lookups[decision.scope].format(decision.subject)}") as found:
                if found.status == 200:
                    why = owned(decision.scope, await found.json())
                    decision = Decision(not why, why)
        if not decision.allowed:
            return web.json_response({"message": f"refused by the sandbox's engine proxy: {decision.why}"}, status=403)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length",
                                                                              "transfer-encoding", "connection")}
        data = body if body is not None else (request.content if request.can_read_body else None)
        async with session.request(request.method, f"http://engine{request.path_qs}", data=data, headers=headers,
                                   allow_redirects=False) as upstream:
            response = web.StreamResponse(status=upstream.status, headers={
                k: v for k, v in upstream.headers.items()
                if k.lower() not in ("content-length", "transfer-encoding", "connection")})
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    async def engine(app: web.Application):
        app["engine"] = aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=engine_socket),
                                              timeout=aiohttp.ClientTimeout(total=None))
        yield
        await app["engine"].close()

    app = web.Application(client_max_size=0)
    app.cleanup_ctx.append(engine)
    app.router.add_route("*", "/{tail:.*}", handle)
    web.run_app(app, host=listen_host, port=listen_port, print=None)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="0.0.0.0:2375", help="HOST:PORT to listen on")
    parser.add_argument("--engine", default="/var/run/docker.sock", help="the engine's socket")
    parser.add_argument("--socket-dir", default=os.environ.get("STAGING_SOCKET_DIR", ""),
                        help="the only host folder containers may mount from (STAGING_SOCKET_DIR)")
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    serve(host or "0.0.0.0", int(port), args.engine, args.socket_dir)


if __name__ == "__main__":
    main()
