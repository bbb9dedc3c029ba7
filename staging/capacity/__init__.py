"""Capacity side by side: how much traffic each model holds within a latency objective, how
it takes a spike, and what 1,000 predictions cost.

    ramp.py      the objective, the stepped ramp and the refining search for the sustainable rate,
                 each step's summary with its percentiles' intervals, cost and replicas
    load.py      the open-loop sender: a schedule of requests, each timed from its due time, late
                 sends counted; spread over worker processes when one cannot keep the rate
    wire.py      its HTTP/1.1 client: keep-alive connections driven from the event loop's callbacks
    spike.py     the spike's schedule and its summary (errors, worst p99, time to recover)
    harness.py   the harness's own ceiling, measured against the stub server (stub.py)
    resources.py a server's CPU and memory, sampled from the backend's readings while a step runs
    measure.py   the ramp run for real against one server
    run.py       a whole run: the ceiling, then each model alone, A B A B, and the spike
    result.py    the result as values, the ranges the gate reads, and the sentence that concludes it
    store.py     results kept under the home, the latest found by model and versions
"""

from .load import Sender, at_rate, send_at_rate
from .measure import measure_server, measure_step
from .ramp import Objective, RampSettings, StepResult, cost_per_1k, find_sustainable, replicas_needed, summarize_step

__all__ = ["Objective", "RampSettings", "Sender", "StepResult", "at_rate", "cost_per_1k", "find_sustainable",
           "measure_server", "measure_step", "replicas_needed", "send_at_rate", "summarize_step"]
