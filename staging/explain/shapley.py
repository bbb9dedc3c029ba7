"""shap's permutation explainer over the served models: one explainer per model, each in a
process of its own forked from the worker (each model is its own server, so both go at once, and
each process owns numpy's random generator, so the permutations depend on the seed alone: the
same rows explained again, or two identical models, get the very same permutations). A few rows
at a time, so that progress shows; cancel and the time limit stop it between batches, and the
rows done are kept.

The method: `shap.PermutationExplainer` with an independent (interventional) masker over the
background; each permutation is walked forward and backward (antithetic), so a model that is
additive in its inputs (a linear model on the margin) gets its exact Shapley values from one
permutation, and any model's values sum to its output minus the background's mean output.
"""

from __future__ import annotations

import multiprocessing
import queue as queues
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .served import ServedOutput, Stopped

ROWS_PER_STEP = 10


@dataclass
class ModelAttributions:
    values: list[np.ndarray] = field(default_factory=list)  # per explained row: features x outputs
    base: list[np.ndarray] = field(default_factory=list)  # per row: the background's mean output
    error: str | None = None  # what failed, in words
    stopped: bool = False
    requests_sent: int = 0
    rows_sent: int = 0

    @property
    def done(self) -> int:
        return len(self.values)


def explain_model(output: ServedOutput, background: np.ndarray, rows: np.ndarray, permutations: int, seed: int,
                  on_step: Callable[[int], None]) -> ModelAttributions:
    import shap  # heavy (numba): loaded in the worker only

    features = rows.shape[1]
    explainer = shap.PermutationExplainer(output, shap.maskers.Independent(background, max_samples=len(background)),
                                          seed=seed)
    result = ModelAttributions()
    try:
        for start in range(0, len(rows), ROWS_PER_STEP):
            step = explainer(rows[start:start + ROWS_PER_STEP], max_evals=permutations * (2 * features + 1),
                             silent=True)
            values = np.asarray(step.values, dtype=float)
            base = np.asarray(step.base_values, dtype=float)
            if values.ndim == 2:
                values, base = values[:, :, None], base.reshape(-1, 1)
            result.values += list(values)
            result.base += list(base)
            on_step(result.done)
    except Stopped:
        result.stopped = True
    except Exception as exc:  # noqa: BLE001 - reported with the rows done; the worker says what failed
        result.error = str(exc) or type(exc).__name__
    result.requests_sent, result.rows_sent = output.requests_sent, output.rows_sent
    return result


def explain_both(outputs: dict[str, ServedOutput], background: np.ndarray, rows: np.ndarray, permutations: int,
                 seed: int, on_step: Callable[[str, int], None], cancel: threading.Event,
                 every_s: float = 0.5) -> dict[str, ModelAttributions]:
    """Both models at once, one forked process each; each model's rows done, error or stop
    reported. `cancel` (set by the worker's SIGTERM) stops both between batches."""
    context = multiprocessing.get_context("fork")
    stop = context.Event()
    done = {role: context.Value("i", 0) for role in outputs}
    results: multiprocessing.Queue = context.Queue()
    processes = [context.Process(target=_one_model, daemon=True,
                                 args=(role, outputs[role], background, rows, permutations, seed, done[role], stop,
                                       results)) for role in outputs]
    for process in processes:
        process.start()
    collected: dict[str, ModelAttributions] = {}
    reported = {role: -1 for role in outputs}
    while len(collected) < len(outputs):
        if cancel.is_set():
            stop.set()
        for role, count in done.items():
            if count.value != reported[role]:
                reported[role] = count.value
                on_step(role, count.value)
        try:
            role, result = results.get(timeout=every_s)
            collected[role] = result
        except queues.Empty:
            for process, role in zip(processes, outputs):
                if not process.is_alive() and role not in collected and process.exitcode not in (0, None):
                    collected[role] = ModelAttributions(error=f"its explainer process died (exit code "
                                                              f"{process.exitcode})")
    for process in processes:
        process.join(timeout=10)
    for role in done:
        on_step(role, len(collected[role].values))
    return collected


def _one_model(role: str, output: ServedOutput, background: np.ndarray, rows: np.ndarray, permutations: int,
               seed: int, done, stop, results) -> None:
    output.should_stop = stop.is_set

    def step(count: int) -> None:
        done.value = count

    results.put((role, explain_model(output, background, rows, permutations, seed, step)))
