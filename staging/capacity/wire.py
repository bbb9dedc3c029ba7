"""The capacity sender's HTTP/1.1 client: a schedule of POSTs sent over keep-alive connections
straight from the event loop's callbacks, each answer parsed by httptools (llhttp, the parser
uvicorn uses).

A general client (aiohttp, a task and a timeout per request) spent about ten times more CPU per
request than this, which on a small machine made the sender, not the model, the limit of a
capacity run. Here a due request takes an idle connection (or opens one: open loop, never a
wait), is written as bytes built once, and is timed by its connection's callbacks; one sweep
a tenth of a second times out what waited too long. One request at a time per connection, no
pipelining. Times are `time.monotonic()`, one clock for every process of the machine.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlsplit

import httptools
import numpy as np

MAX_IN_FLIGHT = 4096  # past this many unanswered requests, a due request is dropped (k6's dropped iterations)
WARM_CONNECTIONS = 16
ERRORS = ("", "timeout", "connection failed", "connection closed", "unreadable answer", "dropped")


@dataclass
class Shot:
    """What happened to each request of a schedule: when it left and finished (monotonic seconds),
    its HTTP status (0: none) and its error (an index into `ERRORS`)."""

    sent: np.ndarray
    done: np.ndarray
    status: np.ndarray
    error: np.ndarray

    @classmethod
    def empty(cls, count: int) -> Shot:
        return cls(np.full(count, np.nan), np.full(count, np.nan), np.zeros(count, dtype=np.int32),
                   np.zeros(count, dtype=np.int8))


def request_bytes(url: str, body: bytes, headers: dict[str, str]) -> bytes:
    """One POST's bytes, built once and sent as often as the schedule asks."""
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [f"POST {path} HTTP/1.1", f"Host: {parts.hostname}:{parts.port or 80}", f"Content-Length: {len(body)}",
             *(f"{name}: {value}" for name, value in headers.items() if name.lower() != "content-length")]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class _Connection(asyncio.Protocol):
    def __init__(self, sender: OpenLoopSender) -> None:
        self.sender = sender
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.current = -1  # the request it is answering, -1 when idle

    def connection_made(self, transport) -> None:
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:  # each request is one write: never wait for more (Nagle's delay)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self._end(ERRORS.index("unreadable answer"))

    def connection_lost(self, exc: Exception | None) -> None:
        self._end(ERRORS.index("connection closed"))

    def on_message_complete(self) -> None:
        index, self.current = self.current, -1
        if index >= 0:
            self.sender.answered(index, self.parser.get_status_code(), self)
        if not self.parser.should_keep_alive():
            self._end(0)

    def write(self, index: int, request: bytes) -> None:
        self.current = index
        assert self.transport is not None
        self.transport.write(request)

    def _end(self, error: int) -> None:
        """The connection is done with: its unanswered request (if any) fails with `error`."""
        index, self.current = self.current, -1
        self.sender.lost(self, index, error)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


class OpenLoopSender:
    """Sends request i (bytes `requests[i % len]`) at monotonic time `dues[i]` to one host."""

    def __init__(self, url: str, requests: list[bytes], timeout_s: float) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the capacity sender speaks plain http to a host, not {url!r}")
        self.host, self.port = parts.hostname, parts.port or 80
        self.requests, self.timeout_s = requests, timeout_s
        self.idle: deque[_Connection] = deque()
        self.busy: dict[_Connection, int] = {}
        self.connecting = 0
        self.waiting: deque[int] = deque()  # due requests whose connection is being opened
        self.shot = Shot.empty(0)
        self.outstanding = 0
        self.finished: asyncio.Future[None] | None = None

    async def run(self, indices: np.ndarray, dues: np.ndarray, total: int) -> Shot:
        """Send `indices` at `dues` (monotonic seconds); the shot of `total` rows (others left NaN)."""
        loop = asyncio.get_running_loop()
        self.shot, self.outstanding = Shot.empty(total), len(indices)
        self.finished = loop.create_future()
        if not len(indices):
            return self.shot
        for _ in range(min(WARM_CONNECTIONS, len(indices))):
            try:
                _, connection = await loop.create_connection(lambda: _Connection(self), self.host, self.port)
                self.idle.append(connection)
            except OSError:
                break  # the requests will fail on their own connections, each counted
        sweeper = asyncio.ensure_future(self._sweep())
        position = 0
        while position < len(indices):
            now = time.monotonic()
            while position < len(indices) and dues[position] <= now:
                self._send(int(indices[position]), loop)
                position += 1
            if position < len(indices):  # timers fire within about a millisecond; lateness is measured
                await asyncio.sleep(max(0.0, float(dues[position]) - time.monotonic()))
        await self.finished
        sweeper.cancel()
        for connection in [*self.idle, *self.busy]:
            if connection.transport is not None:
                connection.transport.close()
        return self.shot

    def _send(self, index: int, loop: asyncio.AbstractEventLoop) -> None:
        self.shot.sent[index] = time.monotonic()
        if len(self.busy) + self.connecting >= MAX_IN_FLIGHT:
            self._record(index, 0, ERRORS.index("dropped"))
        elif self.idle:
            connection = self.idle.pop()
            self.busy[connection] = index
            connection.write(index, self.requests[index % len(self.requests)])
        else:
            self.connecting += 1
            self.waiting.append(index)
            asyncio.ensure_future(self._connect_and_send(loop))

    async def _connect_and_send(self, loop: asyncio.AbstractEventLoop) -> None:
        index = self.waiting.popleft()
        try:
            _, connection = await loop.create_connection(lambda: _Connection(self), self.host, self.port)
        except OSError:
            self.connecting -= 1
            self._record(index, 0, ERRORS.index("connection failed"))
            return
        self.connecting -= 1
        if np.isnan(self.shot.done[index]):  # not already timed out while connecting
            self.busy[connection] = index
            connection.write(index, self.requests[index % len(self.requests)])
        else:
            self.idle.append(connection)

    def answered(self, index: int, status: int, connection: _Connection) -> None:
        self.busy.pop(connection, None)
        self.idle.append(connection)
        self._record(index, status, 0)

    def lost(self, connection: _Connection, index: int, error: int) -> None:
        self.busy.pop(connection, None)
        try:
            self.idle.remove(connection)
        except ValueError:
            pass
        if index >= 0:
            self._record(index, 0, error)

    def _record(self, index: int, status: int, error: int) -> None:
        if not np.isnan(self.shot.done[index]):
            return  # already timed out
        self.shot.done[index], self.shot.status[index], self.shot.error[index] = time.monotonic(), status, error
        self.outstanding -= 1
        if self.outstanding == 0 and self.finished is not None and not self.finished.done():
            self.finished.set_result(None)

    async def _sweep(self) -> None:
        """Every 0.1 s: a request in flight longer than the timeout fails as "timeout", its
        connection closed (its state unknown)."""
        while True:
            await asyncio.sleep(0.1)
            limit = time.monotonic() - self.timeout_s
            for connection, index in list(self.busy.items()):
                if self.shot.sent[index] < limit:
                    self._record(index, 0, ERRORS.index("timeout"))
                    self.busy.pop(connection, None)
                    connection.current = -1
                    if connection.transport is not None:
                        connection.transport.close()
            for index in list(self.waiting):
                if self.shot.sent[index] < limit:
                    self._record(index, 0, ERRORS.index("timeout"))
