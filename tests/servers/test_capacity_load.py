"""The capacity run's open-loop sender against a real HTTP server (the benches' uvicorn stub):
it sends at the rate asked, on time, and times each request from its due time, so a server
that answers slower than requests arrive shows its queue instead of slowing the sender."""

import subprocess
import sys

import pytest
from support import ROOT, free_port, wait_until_up

from staging.capacity import send_at_rate, summarize_step


@pytest.fixture
def stub():
    def start(sleep_ms: float):
        port = free_port()
        process = subprocess.Popen([sys.executable, str(ROOT / "bench" / "stub_server.py"), str(port),
                                    "--sleep-ms", str(sleep_ms)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started.append(process)
        wait_until_up(f"http://127.0.0.1:{port}/ping")
        return f"http://127.0.0.1:{port}/invocations"

    started: list[subprocess.Popen] = []
    yield start
    for process in started:
        process.terminate()
        process.wait(10)


BODY = [b'{"dataframe_split": {"columns": ["x"], "data": [[1.0]]}}']


def test_the_sender_keeps_a_fixed_arrival_rate_and_times_from_the_due_time(stub):
    url = stub(5)
    answers = send_at_rate(url, BODY, rate=100, duration_s=3)
    step = summarize_step(answers, 100, 3, late_margin_ms=10)
    assert step.sent == 300 and step.answered == 300 and step.errors == {}
    assert answers["late_ms"].median() < 10  # the sender kept its schedule (how many stragglers a busy
    # machine adds is the bench's business, not a test's)
    assert step.percentiles["p50"]["estimate"] >= 5  # the stub's 5 ms at least
    assert (answers["latency_ms"] >= answers["service_ms"] - 1e-6).all()  # from the due time, never less


def test_two_sending_processes_share_a_schedule_each_request_once_and_on_time(stub):
    """Sharded by a hash of the request's index over two spawned processes: every request of the
    schedule is sent exactly once, on time, and answered."""
    from staging.capacity import Sender, at_rate

    url = stub(0)
    with Sender(max_shards=2) as sender:
        answers = sender.send(url, BODY, at_rate(400, 2), shards=2)
    assert len(answers) == 800 and answers["index"].tolist() == list(range(800))
    assert (answers["status"] == 200).all() and answers["late_ms"].median() < 10


SERIAL_SERVER = """
import http.server, sys, threading, time
one_at_a_time = threading.Lock()

class Slow(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with one_at_a_time:
            time.sleep(0.02)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass

http.server.ThreadingHTTPServer.request_queue_size = 1024
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Slow).serve_forever()
"""


def test_a_server_that_cannot_keep_up_shows_its_queue_not_a_slower_sender():
    """A server (its own process) that answers one request at a time in 20 ms holds 50 a second;
    offered 100 a second, the requests still leave on time and their latencies grow along the step."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERIAL_SERVER, str(port)])
    try:
        wait_until_up(f"http://127.0.0.1:{port}/")
        answers = send_at_rate(f"http://127.0.0.1:{port}/", BODY, rate=100, duration_s=2, timeout_s=30)
    finally:
        server.terminate()
        server.wait(10)
    step = summarize_step(answers, 100, 2, late_margin_ms=10)
    assert answers["late_ms"].median() < 10 and step.answered == 200  # on time, though the server fell behind
    first, last = answers["latency_ms"].iloc[:20].median(), answers["latency_ms"].iloc[-20:].median()
    assert last > first + 1000  # a queue of about 100 requests at 20 ms each built up by the end


def test_a_process_trees_cpu_and_memory_are_sampled_children_included():
    """A parent that idles and a child that spins one core and holds 100 MB: the tree uses about
    one core and over 100 MB; the parent alone would show neither."""
    from staging.backends.process import process_tree_usage
    from staging.capacity.resources import UsageSampler

    child = "x = bytearray(100 * 2**20)\nwhile True:\n    pass\n"
    parent = subprocess.Popen([sys.executable, "-c", f"import subprocess, sys, time\n"
                               f"subprocess.Popen([sys.executable, '-c', {child!r}])\ntime.sleep(60)\n"])
    try:
        import time

        time.sleep(1.0)
        usage = UsageSampler(lambda: process_tree_usage(parent.pid), interval_s=0.1).start()
        time.sleep(2.0)
        usage = usage.stop()
    finally:
        import psutil

        for process in psutil.Process(parent.pid).children(recursive=True):
            process.kill()
        parent.kill()
        parent.wait(10)
    assert 0.5 < usage.cpu_cores_mean < 1.3 and usage.memory_mb_peak > 100 and usage.samples >= 10


def test_a_server_of_known_capacity_is_measured_within_15_percent():
    """The serial server answers one request at a time in 20 ms: it holds 50 requests a second.
    The ramp (2-second steps) and its bisection find that within 15%, and each step carries the
    server's CPU and memory."""
    from staging.backends.process import process_tree_usage
    from staging.capacity import Objective, RampSettings, Sender, measure_server

    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERIAL_SERVER, str(port)])
    try:
        wait_until_up(f"http://127.0.0.1:{port}/")
        with Sender(timeout_s=30) as sender:
            found = measure_server(sender, f"http://127.0.0.1:{port}/", BODY,
                                   RampSettings(start_rate=10, step_s=2, refine_steps=3, min_requests=20),
                                   Objective("p99", 200.0),
                                   read_usage=lambda: process_tree_usage(server.pid))
    finally:
        server.terminate()
        server.wait(10)
    assert found.rate == pytest.approx(50, rel=0.15), [(s.rate, s.latency("p99")) for s in found.steps]
    assert found.first_bad > found.rate and all(s.resources["samples"] >= 2 for s in found.steps)
    assert max(s.resources["memory_mb_peak"] for s in found.steps) > 5
