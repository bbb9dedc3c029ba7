"""A model whose capacity is known by construction, for bench/capacity.py: each prediction holds
the core it runs on for `hold_ms` milliseconds of its own thread's CPU time (a spin on the thread's
CPU clock, not the wall clock: two requests answered at once in the server's threads cannot share
one spin), so one server worker answers at most 1000 / (hold_ms + the server's own CPU time per
request) a second.

Logged as a cloudpickled PythonModel (this module pickled by value), with the demo models' exact
requirements, so it runs in the environment they already made."""

from __future__ import annotations

import time

from mlflow.pyfunc import PythonModel


class BusyModel(PythonModel):
    def __init__(self, hold_ms: float = 10.0) -> None:
        self.hold_ms = hold_ms

    def predict(self, context, model_input, params=None):
        rows = len(model_input)
        due = time.thread_time() + self.hold_ms * rows / 1000
        while time.thread_time() < due:
            pass
        return [0] * rows
