"""`Watcher`: MLflow's webhooks received, comparisons queued and run one at a time, on a schedule too.

Three parts share one `ComparisonQueue` on disk:
- the receiver (aiohttp, on loopback unless told otherwise) checks each delivery's signature,
  age and shape (`staging.watch.signature`), acknowledges a delivery id it has seen, ignores
  events no rule wants, and queues a job for the rest, answering at once (MLflow retries a slow
  or failed answer);
- the worker thread takes the oldest settled job, runs it (`comparison.run_comparison`) and
  records the outcome: the verdict in the series and, when set, posted to the outgoing hook;
  a failure of any kind is logged, tagged on the version as `sandbox.verdict=error` with its
  reason, and the worker goes on to the next job;
- the schedule (`every_s`) queues a comparison of each model's current pair when due, and
  remembers when it last did, so a restart keeps the rhythm.
On start the queue is resumed: a job that was running when the watcher died runs again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from aiohttp import web

from ..errors import StagingError
from ..files import atomic_write
from ..home import SandboxHome
from ..refs import ModelRef
from ..runs.settings import ReplaySettings
from ..sandbox import Sandbox
from ..watch import ComparisonQueue, DeliveryRefused, Job, SeriesPoint, VerdictSeries, WatchRule, read_delivery
from ..watch.queue import DONE, ERROR, SUPERSEDED
from .comparison import Superseded, run_comparison
from .notify import post_verdict

ERROR_STATUS = "error"
MAX_BODY = 1 << 20  # an MLflow event is a few hundred bytes


@dataclass(frozen=True)
class WatchSettings:
    """Everything a watcher needs, checked before it listens."""

    rules: dict[str, WatchRule]
    secret: str
    host: str = "127.0.0.1"
    port: int = 8787
    every_s: float | None = None
    settle_s: float = 3.0
    replay: ReplaySettings = field(default_factory=ReplaySettings)
    backend: str = "auto"
    endpoint_urls: dict[str, str] | None = None
    allowed_hosts: tuple[str, ...] = ()
    runtimes: dict[str, str] | None = None
    trust: tuple[str, ...] = ()
    notify_url: str | None = None


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class Watcher:
    """The receiver, the worker and the schedule of one sandbox home."""

    def __init__(self, home: SandboxHome, settings: WatchSettings, log: Callable[[str], None]) -> None:
        self.home, self.settings = home.ensure(), settings
        self.queue = ComparisonQueue(home.watch_dir)
        self.series = VerdictSeries(home.watch_dir)
        self.schedule_path = home.watch_dir / "schedule.json"
        self._log = log
        self._logger = logging.getLogger("staging.watcher")
        self._cancel: dict[str, threading.Event] = {}
        self._stopping = threading.Event()
        self._worker: threading.Thread | None = None

    def log(self, message: str) -> None:
        self._logger.info(message)
        self._log(message)

    # -- the receiver -----------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post("/webhook", self._webhook)
        app.router.add_get("/health", self._health)
        app.router.add_get("/jobs", self._jobs)
        return app

    async def _webhook(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            delivery = read_delivery(self.settings.secret, request.headers, body, time.time())
        except DeliveryRefused as refused:
            self.log(f"refused ({refused.status}): {refused.reason}")
            return web.json_response({"refused": refused.reason}, status=refused.status)
        if self.queue.seen(delivery.delivery_id):
            self.log(f"delivery {delivery.delivery_id}: seen before (a redelivery); acknowledged, not run again")
            return web.json_response({"status": "duplicate"})
        rule = self.settings.rules.get(delivery.model)
        if rule is None or not rule.triggered_by(delivery.event, delivery.alias) or not delivery.version:
            self.queue.remember(delivery.delivery_id)
            return web.json_response({"status": "ignored", "event": delivery.event})
        job, superseded = self.queue.add(Job.new(delivery.model, delivery.version, "webhook", delivery.delivery_id))
        self.queue.remember(delivery.delivery_id)
        for job_id in superseded:
            self._cancel.setdefault(job_id, threading.Event()).set()
        self.log(f"delivery {delivery.delivery_id}: {delivery.event} {delivery.model} v{delivery.version}: "
                 f"job {job.id} {job.state}" + (f" ({job.reason})" if job.reason else ""))
        return web.json_response({"status": job.state, "job": job.id}, status=202)

    async def _health(self, request: web.Request) -> web.Response:
        jobs = self.queue.jobs()
        return web.json_response({"ok": True, "queued": sum(j.state == "queued" for j in jobs),
                                  "running": sum(j.state == "running" for j in jobs)})

    async def _jobs(self, request: web.Request) -> web.Response:
        return web.json_response([asdict(job) for job in self.queue.jobs()])

    # -- the schedule -----------------------------------------------------------------------
    def _last_scheduled(self) -> dict[str, float]:
        try:
            return {k: float(v) for k, v in json.loads(self.schedule_path.read_text()).items()}
        except (OSError, ValueError, AttributeError):
            return {}

    def schedule_due(self, now: float) -> list[Job]:
        """Queue a scheduled comparison of each model whose last one is `every_s` old (or never was)."""
        if not self.settings.every_s:
            return []
        last, queued = self._last_scheduled(), []
        for model in self.settings.rules:
            if now - last.get(model, 0.0) >= self.settings.every_s:
                job, _ = self.queue.add(Job.new(model, "", "schedule"))
                last[model] = now
                queued.append(job)
                self.log(f"schedule: {model}: job {job.id} {job.state}" + (f" ({job.reason})" if job.reason else ""))
        if queued:
            atomic_write(self.schedule_path, json.dumps(last))
        return queued

    async def _schedule(self) -> None:
        while not self._stopping.is_set():
            self.schedule_due(time.time())
            await asyncio.sleep(1.0)

    # -- the worker -------------------------------------------------------------------------
    def _work(self) -> None:
        settings = self.settings
        with Sandbox(self.home, backend=settings.backend, endpoint_urls=settings.endpoint_urls,
                     allowed_hosts=settings.allowed_hosts) as box:
            while not self._stopping.is_set():
                job = self.queue.take(1.0, settings.settle_s)
                if job is not None:
                    self.run_job(box, job)

    def run_job(self, box: Sandbox, job: Job) -> None:
        """One job to its end; nothing it raises stops the worker."""
        rule = self.settings.rules.get(job.model)
        cancelled = self._cancel.setdefault(job.id, threading.Event())
        if rule is None:
            self.queue.update(job.id, state=ERROR, reason=f"no rule watches {job.model} any more")
            return
        self.log(f"job {job.id}: {job.model} " + (f"v{job.version}" if job.version else "@challenger")
                 + f" ({job.trigger}, attempt {job.attempts})")
        try:
            compared = run_comparison(box, rule, job, self.settings.replay, cancelled,
                                      lambda run_id: self.queue.update(job.id, run_id=run_id), self.log,
                                      self.settings.runtimes, self.settings.trust)
        except Superseded:
            if self.queue.state_of(job.id) == SUPERSEDED:
                self.log(f"job {job.id}: superseded while it ran; stopped")
            else:  # the watcher is stopping: the job stays running on disk, and a restart runs it again
                self.log(f"job {job.id}: interrupted by the watcher stopping; it runs again on restart")
            return
        except StagingError as exc:
            self._failed(box, job, str(exc))
            return
        except Exception as exc:  # a fault of the sandbox or a service: logged whole, said in one line
            self._logger.exception("job %s failed", job.id)
            self._failed(box, job, f"the sandbox failed ({type(exc).__name__}: {str(exc)[:200]}); the traceback is "
                                   f"in {self.home.logs_dir / 'watcher.log'}")
            return
        finally:
            self._cancel.pop(job.id, None)
        self.queue.update(job.id, state=DONE, run_id=compared.run_id, verdict=compared.status)
        self.log(f"job {job.id}: {job.model} v{compared.challenger}: {compared.status.upper()}: {compared.headline}")
        self._record(SeriesPoint(_now(), job.model, compared.champion, compared.challenger,
                                 job.trigger, compared.status, compared.headline,
                                 compared.run_id, compared.report))

    def _failed(self, box: Sandbox, job: Job, reason: str) -> None:
        """A job that could not reach a verdict: logged, tagged `error` on its version, and recorded."""
        ended = self.queue.update(job.id, state=ERROR, reason=reason[:2000])
        run_id = ended.run_id if ended is not None else ""
        self.log(f"job {job.id}: error: {reason}")
        aliases = box.aliases(job.model)
        version = job.version or aliases.get("challenger", "")
        if version:
            try:
                box.tag_verdict(ModelRef(job.model, version), ERROR_STATUS, reason, run_id)
            except StagingError as exc:
                self.log(f"job {job.id}: the error could not be tagged on v{version}: {exc}")
        self._record(SeriesPoint(_now(), job.model, aliases.get("champion", ""), version, job.trigger, ERROR_STATUS,
                                 reason, run_id))

    def _record(self, point: SeriesPoint) -> None:
        self.series.append(point)
        if self.settings.notify_url:
            post_verdict(self.settings.notify_url, point, self.log)

    # -- running ----------------------------------------------------------------------------
    def start_worker(self) -> None:
        for job in self.queue.resume():
            self.log(f"job {job.id}: {job.model} v{job.version or '@challenger'} was interrupted; queued again")
        self._worker = threading.Thread(target=self._work, name="watcher-worker", daemon=True)
        self._worker.start()

    def stop(self) -> None:
        self._stopping.set()
        for event in list(self._cancel.values()):
            event.set()
        if self._worker is not None:
            self._worker.join(60)

    def serve(self) -> None:
        """Listen until interrupted (Ctrl-C or SIGTERM); the worker and the schedule run beside."""
        self.start_worker()

        async def main() -> None:
            runner = web.AppRunner(self.app(), access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, self.settings.host, self.settings.port)
            await site.start()
            self.log(f"listening on http://{self.settings.host}:{self.settings.port}/webhook for "
                     f"{', '.join(sorted(self.settings.rules))}"
                     + (f"; comparing every {self.settings.every_s:,.0f} s" if self.settings.every_s else ""))
            try:
                await self._schedule()
            finally:
                await runner.cleanup()

        try:
            asyncio.run(main())
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()


def watch_log_path(home: SandboxHome) -> Path:
    return home.logs_dir / "watcher.log"
