"""What the watcher watches and what it keeps, as plain values and files under `HOME/watch/`.

    rules.py      `WatchRule`: a model, the traffic it is compared on (a file, a prefix, the
                  last N hours of a prefix), the trigger (a new @challenger, or every new
                  version), and durations such as `24h` read once
    signature.py  MLflow's webhook signature (`v1,<base64 HMAC-SHA256>` over
                  "delivery_id.timestamp.body") checked, and a delivery read into a `Delivery`
    queue.py      `ComparisonQueue`: one comparison per model, newest wins (the rest superseded),
                  one run at a time, every change written to disk so a restart resumes it; and
                  the delivery ids already seen
    series.py     `VerdictSeries`: each verdict the watcher reached, in order, for Overview

The service that uses them (the receiver, the runs, the schedule) is `staging.watcher`.
"""

from .queue import ComparisonQueue, Job
from .rules import WatchRule, parse_duration
from .series import SeriesPoint, VerdictSeries
from .signature import Delivery, DeliveryRefused, read_delivery, sign

__all__ = ["ComparisonQueue", "Delivery", "DeliveryRefused", "Job", "SeriesPoint", "VerdictSeries", "WatchRule",
           "parse_duration", "read_delivery", "sign"]
