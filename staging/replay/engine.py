"""The replay's hot path: aiohttp on one event loop, sending request bodies (serialized once
up front) to the model servers as `plan` decides, and writing every answer.

- Who first: in shadow mode, which model is sent to first rotates from request to request.
- Warm-up requests go to every server first and are not recorded.
- Timing "max" keeps `concurrency` requests in flight (closed loop). Timings "recorded" and
  "rate" are open loop: each request leaves at its due time whether or not earlier ones have
  answered, and its latency counts from that due time (`latency_ms`), with the server's own
  time from the actual send beside it (`service_ms`).
- Canary runs step by step; after each step the gates are checked and a failure routes the
  rest to the champion.
- Nothing is retried: a timeout, a refused connection or an error status is an error row.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from typing import Any

import aiohttp
import numpy as np
import pandas as pd
import yarl

from ..runs import RunWriter
from ..runs.settings import ReplaySettings
from ..serving.endpoint import Endpoint
from ..serving.predictions import PredictionFormatError, parse_prediction_columns
from ..serving.protocols import V2, v2_predictions
from .plan import CanaryGates, ab_targets, canary_steps, canary_targets, check_gates, not_reached
from .progress import ReplayProgress


def _wire_clock() -> aiohttp.TraceConfig:
    """Latency starts when the request's headers are handed to the socket, as wrk times it, not
    while aiohttp is still building the request: that part is the client's cost, not the model's."""
    async def headers_sent(_session, context, _params) -> None:
        if context.trace_request_ctx is not None:
            context.trace_request_ctx["began"] = time.perf_counter()

    config = aiohttp.TraceConfig()
    config.on_request_headers_sent.append(headers_sent)
    return config


SPIN_S = 0.002  # open-loop sends: how long before a due time the engine stops sleeping and polls


class ReplayEngine:
    def __init__(self, endpoints: dict[str, Endpoint], writer: RunWriter, settings: ReplaySettings, progress: ReplayProgress,
                 cancel: threading.Event) -> None:
        self.endpoints = endpoints
        self.writer = writer
        self.settings = settings
        self.progress = progress
        self.cancel = cancel
        self.connection_failures = {role: 0 for role in endpoints}
        self.urls = {role: yarl.URL(endpoint.invocations_url) for role, endpoint in endpoints.items()}  # parsed once
        self.protocols = {role: endpoint.protocol for role, endpoint in endpoints.items()}
        self.headers = {role: endpoint.headers for role, endpoint in endpoints.items()}
        self.sent = {role: 0 for role in endpoints}  # requests each model was sent, and answered without error
        self.answered = {role: 0 for role in endpoints}
        self.first_error: dict[str, str] = {}
        roles = list(endpoints)
        self._rotations = [roles[turn:] + roles[:turn] for turn in range(len(roles))]
        self.canary_report: list[dict] = []
        self.aborted = ""
        self._step_rows: list[dict] | None = None  # a canary step's answers, for its gates

    async def run(self, units: list[list[str]], bodies: list[bytes], offsets: np.ndarray | None,
                  split_keys: list | None = None) -> None:
        """`units[i]` is the request id (or the list of ids) whose rows `bodies[i]` carries;
        `offsets[i]` when unit i is due; `split_keys[i]` its A/B key."""
        ids = [unit if isinstance(unit, str) else unit[0] for unit in units]
        settings = self.settings
        scheduled = offsets is not None
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=0 if scheduled else settings.concurrency + 1)
        timeout = aiohttp.ClientTimeout(total=settings.timeout_s)
        # no cookie jar, no decompression and no headers the model server does not need (it
        # parses every header it is sent, in Python): less work per request on both sides
        async with aiohttp.ClientSession(timeout=timeout, connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
                                         auto_decompress=False, trace_configs=[_wire_clock()],
                                         skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding")) as session:
            await self._warm_up(session, bodies)
            if settings.mode == "canary":
                await self._canary(session, units, ids, bodies, offsets)
                return
            if settings.mode == "ab":
                targets = ab_targets(split_keys if split_keys is not None else ids, settings.challenger_share)
                route = lambda i: [str(targets[i])]
            else:
                route = self._shadow_order
            await self._send_range(session, range(len(ids)), units, bodies, offsets, route)

    def _shadow_order(self, index: int) -> list[str]:
        return self._rotations[index % len(self._rotations)]  # who is sent to first rotates per request

    async def _canary(self, session, units, ids, bodies, offsets) -> None:
        gates = CanaryGates(self.settings.canary_max_error_rate, self.settings.canary_max_p95_ratio,
                            self.settings.canary_min_answers or CanaryGates.min_answers)
        for step in canary_steps(len(ids), self.settings.canary_steps):
            share = 0 if self.aborted else step.share
            targets = canary_targets(ids[step.start:step.end], share)
            self._step_rows = []
            await self._send_range(session, range(step.start, step.end), units, bodies, offsets,
                                   lambda i, s=step, t=targets: [str(t[i - s.start])])
            if self.cancel.is_set():
                return
            if self.aborted:  # after an abort a step is not a step: it is said so, never "passed"
                self.canary_report.append(not_reached(step.share, step.end - step.start, "the canary was aborted"))
                continue
            passed, facts = check_gates(pd.DataFrame(self._step_rows, columns=["target", "status", "error",
                                                                               "latency_ms"]), gates)
            self.canary_report.append({"share": share, "requests": step.end - step.start, "passed": passed,
                                       "reached": True, **facts})
            if not passed and not self.aborted:
                self.aborted = (f"Canary aborted at {step.share}%: {facts['reason']}. Every later request went "
                                f"to the champion.")

    async def _send_range(self, session, indices: range, units, bodies, offsets, route) -> None:
        pending: set[asyncio.Task] = set()
        slots = None if offsets is not None else asyncio.Semaphore(self.settings.concurrency)
        if offsets is not None and len(indices):
            # the schedule restarts at each call (a canary step waits for its gates); perf_counter,
            # not loop.time(): uvloop's loop time is cached per iteration and runs behind
            clock_start, wall_start = time.perf_counter() - offsets[indices[0]], time.time() - offsets[indices[0]]
        for index in indices:
            if self.cancel.is_set():
                break
            if slots is not None:
                await slots.acquire()
                intended = None  # closed loop: no schedule, a request is due when it is sent
            else:
                await self._until(clock_start + offsets[index])
                if self.cancel.is_set():
                    break
                intended = wall_start + offsets[index]
            unit = units[index]
            request_ids = [unit] if isinstance(unit, str) else unit
            task = asyncio.create_task(self._one_request(session, request_ids, bodies[index], route(index), intended))
            if slots is not None:
                task.add_done_callback(lambda _t: slots.release())
            pending.add(task)
            task.add_done_callback(pending.discard)
        if pending:
            await asyncio.gather(*pending)

    async def _until(self, due: float) -> None:
        """Wait until `due` on the perf_counter clock. Timers fire to the millisecond at best, so the
        last `SPIN_S` is spent yielding to the loop (answers keep being read) and checking the
        clock; long waits wake every 0.2 s to notice a cancel."""
        while (delay := due - time.perf_counter()) > 0 and not self.cancel.is_set():
            await asyncio.sleep(min(delay - SPIN_S, 0.2) if delay > SPIN_S else 0)

    async def _warm_up(self, session: aiohttp.ClientSession, bodies: list[bytes]) -> None:
        for body in bodies[: self.settings.warmup_requests]:
            for role, endpoint in self.endpoints.items():
                try:
                    async with session.post(endpoint.invocations_url, data=self._body(body, role),
                                            headers=self.headers[role], allow_redirects=False) as response:
                        await response.read()
                except (TimeoutError, aiohttp.ClientError):
                    pass

    async def _one_request(self, session, request_ids: list[str], body: bytes, roles: list[str],
                           intended: float | None) -> None:
        if len(roles) == 1:  # canary and A/B: one model, no gather (a task less per request)
            answers = [await self._send(session, roles[0], request_ids, body, intended)]
        else:
            answers = await asyncio.gather(*(self._send(session, role, request_ids, body, intended)
                                             for role in roles))
        for shared, columns in answers:
            role = shared["target"]
            self.sent[role] += len(request_ids)
            if shared["error"]:
                self.first_error.setdefault(role, shared["error"])
            else:
                self.answered[role] += len(request_ids)
            if len(request_ids) == 1:
                self.writer.append({**shared, **{name: values[0] for name, values in columns.items()}})
            else:
                self.writer.append_columns(shared, columns)
            if self._step_rows is not None:
                self._step_rows.extend([shared] * len(request_ids))
            self.progress.answers += len(request_ids)
            self.progress.errors += len(request_ids) if shared["error"] else 0
        self.progress.completed += len(request_ids)

    def _body(self, body: bytes | dict[str, bytes], role: str) -> bytes:
        """The request as this role's model reads it: a body per protocol when the two differ."""
        return body if isinstance(body, bytes) else body[self.protocols[role]]

    async def _send(self, session, role: str, request_ids: list[str], body: bytes | dict[str, bytes],
                    intended: float | None) -> tuple[dict, dict[str, list]]:
        """One request to one model: (what its rows share, per-row columns). A batch's rows share
        the request's latency, status and error; each has its own prediction."""
        sent = time.time()
        intended = sent if intended is None else intended
        row: dict[str, Any] = {"run_id": self.writer.run_id, "target": role, "intended_send": intended, "actual_send": sent,
               "latency_ms": math.nan, "service_ms": math.nan, "status": 0, "error": ""}
        clock = {"began": time.perf_counter()}
        try:
            async with session.post(self.urls[role], data=self._body(body, role), headers=self.headers[role],
                                    allow_redirects=False, trace_request_ctx=clock) as response:
                payload = await response.read()
                row["service_ms"] = (time.perf_counter() - clock["began"]) * 1000
                row["latency_ms"] = row["service_ms"] + max(sent - intended, 0.0) * 1000
                row["status"] = response.status
        except TimeoutError:
            row["error"] = f"timeout after {self.settings.timeout_s:g} s"
        except aiohttp.ClientError as exc:
            self.connection_failures[role] += 1
            row["error"] = f"{type(exc).__name__}: {exc}"[:300]
        else:
            if row["status"] != 200:
                row["error"] = f"HTTP {row['status']}: {payload[:1000].decode('utf-8', 'replace')}"  # the server's words
        if not row["error"]:
            try:
                answer = json.loads(payload)
                if self.protocols[role] == V2:
                    answer = v2_predictions(answer)
                labels, scores, probabilities = parse_prediction_columns(answer, len(request_ids),
                                                                        self.settings.score_column)
                if len(labels) != len(request_ids):
                    raise PredictionFormatError(f"{len(labels)} predictions for {len(request_ids)} rows")
                return row, {"request_id": request_ids, "prediction": labels, "score": scores,
                             "probabilities": probabilities}
            except (ValueError, PredictionFormatError) as exc:
                row["error"] = f"unreadable answer: {exc}"[:300]
        n = len(request_ids)
        return row, {"request_id": request_ids, "prediction": [None] * n, "score": [math.nan] * n,
                     "probabilities": [""] * n}
