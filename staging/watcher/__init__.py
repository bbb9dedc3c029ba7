"""The watcher: `python -m staging watch`, the comparison that runs itself.

    comparison.py  one queued job run on a `Sandbox`: the versions pinned, the configured traffic
                   replayed, the gate, the report, the `gated` audit record and the version's
                   verdict tags; never a promotion
    notify.py      the verdict posted as JSON to an outgoing webhook on the allow-list (Slack's
                   incoming-webhook shape), with no secret in the body
    service.py     `Watcher`: the receiver of MLflow's signed webhooks (aiohttp), the worker
                   thread that takes one job at a time, the schedule (`--every 24h`), a restart
                   resuming the queue from disk

What it keeps (queue, deliveries, verdicts) is `staging.watch`; the webhook on the tracking
server is made by `staging.registry.webhooks`.
"""

from .service import Watcher, WatchSettings

__all__ = ["WatchSettings", "Watcher"]
