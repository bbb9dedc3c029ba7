"""Capacity side by side (issue 24, in progress): how much traffic each model holds within a
latency objective.

    ramp.py    the objective, the stepped ramp and the refining search for the sustainable rate,
               each step's summary with its percentiles' intervals, and the cost of 1,000 predictions
    load.py    the open-loop load: requests sent at a fixed arrival rate to one server, each timed
               from its due time, late sends counted
    resources.py  a model server's CPU (in cores) and memory, its whole process tree, sampled
               while a step runs
    measure.py the ramp run for real against one server: each step the load and the sampler
"""

from .load import send_at_rate
from .measure import measure_server, measure_step
from .ramp import Objective, RampSettings, StepResult, cost_per_1k, find_sustainable, replicas_needed, summarize_step

__all__ = ["Objective", "RampSettings", "StepResult", "cost_per_1k", "find_sustainable", "measure_server",
           "measure_step", "replicas_needed", "send_at_rate", "summarize_step"]
