"""The Capacity page's widgets: the run's options, the run itself with its progress in words,
and a capacity result: the conclusion, each model's figures, the hockey stick, CPU and memory
against rate, and the spike."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from ..capacity.ramp import Objective, RampSettings
from ..capacity.result import CapacityResult, Prices
from ..capacity.run import CapacitySettings
from ..capacity.spike import SpikeSettings
from ..report import charts
from ..sandbox import Sandbox
from .display import escaped


def capacity_form(box: Sandbox, model: str) -> None:
    """The run's options (prices from the model's policy, when it names them); the run starts on the
    button, after every option and the traffic were checked."""
    priced = box.policy_for(model).capacity_prices or (0.0, 0.0, "")
    st.caption("The app's running model servers are stopped first: each model is measured alone.")
    with st.form("capacity"):
        left, middle, right = st.columns(3)
        percentile = left.selectbox("Latency objective: percentile", ["p99", "p95"])
        latency_ms = middle.number_input("at most (ms)", min_value=1.0, value=100.0, step=10.0)
        max_errors = right.number_input("errors and timeouts at most (share)", min_value=0.0, max_value=0.99,
                                        value=0.01, step=0.01, format="%.2f")
        left, middle, right = st.columns(3)
        repeats = left.number_input("repeats per model (A B A B)", min_value=1, max_value=5, value=2)
        step_s = middle.number_input("seconds per step", min_value=1.0, max_value=60.0, value=3.0)
        max_rate = right.number_input("highest rate (requests a second)", min_value=1.0, value=5000.0, step=100.0)
        left, middle, right = st.columns(3)
        multiple = left.number_input("spike: times the base rate", min_value=1.5, value=10.0)
        vcpu = middle.number_input("price per vCPU-hour (0: no cost)", min_value=0.0, value=float(priced[0]),
                                   format="%.4f")
        gb = right.number_input("price per GB-hour", min_value=0.0, value=float(priced[1]), format="%.4f")
        left, right = st.columns(2)
        currency = left.text_input("currency of the prices", value=priced[2], placeholder="USD",
                                   help="Named by you: the sandbox assumes no currency.")
        peak = right.number_input("a peak to plan for (requests a second, 0: none)", min_value=0.0, value=0.0)
        traffic = st.text_input("recorded traffic to send (a path; empty: the demo scenario's)")
        submitted = st.form_submit_button("Measure both models' capacity", type="primary")
    if not submitted:
        return
    prices = Prices(vcpu, gb, currency) if vcpu > 0 or gb > 0 else None
    settings = CapacitySettings(objective=Objective(percentile, latency_ms, max_errors),
                                ramp=RampSettings(start_rate=20, growth=2.0, max_rate=max_rate, step_s=step_s,
                                                  refine_steps=3),
                                repeats=int(repeats), spike=SpikeSettings(multiple=multiple), prices=prices,
                                peak_rate=peak or None)
    prepared = box.check_capacity(model, traffic.strip() or None, settings)
    with st.status("Measuring capacity, one model at a time…", expanded=True) as status:
        def say(message: str) -> None:
            st.text(message)

        result = box.run_capacity(prepared, progress=say)
        status.update(label=f"Capacity measured in {result.duration_s:.0f} s: the result is below", state="complete",
                      expanded=False)


def capacity_result(result: CapacityResult) -> None:
    """A capacity result: the sentence, the figures per model, and the charts."""
    with st.container(border=True):
        st.subheader("Capacity side by side")
        st.text(result.conclusion())
        st.caption(escaped(f"Run {result.capacity_id} on {result.backend}, {result.started_at}, "
                           f"{result.duration_s:.0f} s. Objective: {result.objective.text()}. "
                           + (f"The harness's own ceiling here: {result.ceiling.rate:,.0f} req/s; a rate above 80% "
                              "of it is reported as 'at least'." if result.ceiling and result.ceiling.rate else "")))
    st.dataframe(model_table(result), hide_index=True, width="stretch")
    steps = result.steps_frame()
    if steps.empty:
        st.info("This capacity run measured no step.")
        return
    sustainable = pd.DataFrame([{"model": role, "rate": m.rate} for role, m in result.models.items() if m.rate])
    st.altair_chart(charts.capacity_curve(steps, result.objective.latency_ms, result.objective.percentile,
                                          sustainable), width="stretch")
    st.caption("Each point is one step: the throughput the model achieved against its tail latency. Past the "
               "knee the queue grows and latency climbs; the vertical rules are the sustainable rates.")
    if steps["cpu_cores"].notna().any():
        st.altair_chart(charts.capacity_resources(steps), width="stretch")
    else:
        st.caption("The server's CPU and memory could not be read on this backend (a server elsewhere).")
    spike = result.spike_frame()
    if not spike.empty:
        st.altair_chart(charts.spike_lines(spike), width="stretch")
        for role, model in result.models.items():
            if model.spike is not None:
                st.text(spike_sentence(role, model.spike))
    with st.expander("Every step"):
        st.dataframe(steps, hide_index=True, width="stretch")


def spike_sentence(role: str, spike) -> str:
    recovery = ("did not return to its base p99 within the run" if spike.recovery_s is None
                else f"was back to its base p99 {spike.recovery_s:.0f} s after the spike")
    worst = "no answer" if not math.isfinite(spike.worst_p99_ms) else f"{spike.worst_p99_ms:,.0f} ms"
    return (f"The {role}, spiked from {spike.base_rate:g} to {spike.peak_rate:g} req/s: {spike.errors_during:,} "
            f"errors of {spike.sent_during:,} requests, worst p99 {worst}, and it {recovery}.")


def model_table(result: CapacityResult) -> pd.DataFrame:
    rows = []
    for role, model in result.models.items():
        cost = model.cost_per_1k(result.prices)
        rows.append({"model": role, "version": model.version, "sustainable rate": model.text(),
                     "repeats (req/s)": ", ".join("none" if r is None else f"{r:,.0f}" for r in model.rates),
                     "spread between repeats": "–" if model.spread is None else f"{model.spread:.0%}",
                     "cold start (s)": ", ".join(f"{c:.1f}" for c in model.cold_start_s) or "–",
                     "memory growth (MB)": "–" if model.memory_growth_mb is None else f"{model.memory_growth_mb:+.0f}",
                     "image (MB)": "–" if model.image_mb is None else f"{model.image_mb:,.0f}",
                     "instance": (f"{model.vcpus:g} vCPU, {model.memory_gb:g} GB ({model.sized_by})"
                                  if model.vcpus is not None and model.memory_gb is not None else "–"),
                     "cost of 1,000 predictions": "–" if cost is None or result.prices is None
                     else result.prices.money(cost)})
    return pd.DataFrame(rows)


def capacity_history(box: Sandbox, model: str) -> CapacityResult | None:
    """The model's capacity runs, newest first, one chosen to show."""
    results = box.capacity_results(model)
    if not results:
        st.info("No capacity run of this model yet. Measure one above, or run python -m staging capacity --model "
                "NAME.")
        return None
    labels = {r.capacity_id: f"{r.started_at} · {r.backend} · champion v{r.models['champion'].version}, "
                             f"challenger v{r.models['challenger'].version}" for r in results}
    chosen = st.selectbox("A capacity run", list(labels), format_func=lambda key: labels[key])
    return next(r for r in results if r.capacity_id == chosen)
