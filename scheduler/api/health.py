"""What operators of such daemons expect besides the v6 API: Prometheus metrics, liveness, readiness.

- ``GET /metrics``: Prometheus text, collected on each scrape from the newest status snapshot's view
  (monotonic counters behind the status's per-second rates, gauges of nodes, offers, jobs,
  dependencies); never from the live core.
- ``GET /livez``: 200 while the process is doing its work (its snapshots are fresh); 503 if it is
  wedged. It does not look at dependencies: a database outage must not become a restart loop.
- ``GET /readyz``: 200 when subscribed to Mesos with a fresh snapshot and the database answering;
  503 with the reasons otherwise.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from scheduler.api.errors import json_error
from scheduler.api.queue_metrics import QueueMessagesCollector
from scheduler.metrics.scheduler_metrics import METRICS
from scheduler.nodes.states import PRIORITY
from scheduler.status.view import SnapshotView

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class HealthSources:
    """What the health endpoints read; all of it is in memory, nothing awaits a dependency."""

    view: Callable[[], SnapshotView | None]  # the newest snapshot's view
    snapshot_time: Callable[[], float | None]  # epoch of the newest snapshot
    subscribed: Callable[[], bool]
    database_error: Callable[[], str | None]  # the last database failure, while it lasts
    dependencies: Callable[[], dict]  # the status's dependencies section
    freshness_s: float


class SchedulerCollector:
    def __init__(self, sources: HealthSources) -> None:
        self.sources = sources

    def describe(self) -> Iterable[Metric]:
        return []  # collected fresh on every scrape; nothing to declare at registration

    def collect(self) -> Iterable[Metric]:
        view = self.sources.view()
        counters = view.counters if view is not None else {}
        for key in (name.removesuffix("_per_sec") for name in METRICS):
            counter = CounterMetricFamily(f"scale_scheduler_{key}", METRICS[f"{key}_per_sec"].capitalize())
            counter.add_metric([], counters.get(key, 0))
            yield counter
        nodes = GaugeMetricFamily("scale_scheduler_nodes", "Nodes by state", labels=["state"])
        counts = dict.fromkeys((state.name for state in PRIORITY), 0)
        for node in view.nodes if view is not None else ():
            counts[node.state] = counts.get(node.state, 0) + 1
        for state, count in counts.items():
            nodes.add_metric([state], count)
        yield nodes
        gauges = view.gauges if view is not None else {}
        for name, help_text, value in (
            ("offers_held", "Offers held until the next scheduling cycle", gauges.get("offers_held", 0)),
            ("jobs_queued", "Jobs waiting to run", gauges.get("jobs_queued", 0)),
            ("tries_running", "Job executions launched and not ended", gauges.get("tries_running", 0)),
            ("tasks_tracked", "Tasks of this scheduler that Mesos may be running", gauges.get("tasks_tracked", 0)),
            (
                "launches_in_flight",
                "Tasks placed and recorded whose ACCEPT the master has not answered yet",
                gauges.get("launches_in_flight", 0),
            ),
            (
                "launches_in_flight_most",
                "The most launches in flight at once since this scheduler started",
                gauges.get("launches_in_flight_most", 0),
            ),
            (
                "launches_in_flight_limit",
                "MAX_LAUNCHES_IN_FLIGHT: placement waits rather than go past it",
                gauges.get("launches_in_flight_limit", 0),
            ),
            (
                "launches_held",
                "1 while new launches wait: records or acknowledgements behind, or the framework id unstored",
                gauges.get("launches_held", 0),
            ),
            ("paused", "1 while the scheduler is paused", gauges.get("paused", 0)),
            ("subscribed", "1 while subscribed to the Mesos master", int(self.sources.subscribed())),
            ("status_timestamp_seconds", "Time of the newest status snapshot", self.sources.snapshot_time() or 0),
        ):
            gauge = GaugeMetricFamily(f"scale_scheduler_{name}", help_text)
            gauge.add_metric([], value)
            yield gauge
        dependency = GaugeMetricFamily(
            "scale_scheduler_dependency_ok", "1 while the dependency's last check was OK", labels=["dependency"]
        )
        for name, section in sorted(self.sources.dependencies().items()):
            dependency.add_metric([name], int(bool(section.get("OK"))))
        yield dependency


def health_routes(app: web.Application, sources: HealthSources) -> None:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SchedulerCollector(sources))
    registry.register(QueueMessagesCollector())

    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE})

    def stale() -> str | None:
        generated = sources.snapshot_time()
        if generated is None:
            return "no status snapshot yet"
        age = time.time() - generated
        return f"the newest status snapshot is {age:.0f} s old" if age > sources.freshness_s else None

    async def livez(_request: web.Request) -> web.Response:
        problem = stale()
        if problem and sources.snapshot_time() is not None:
            return json_error(503, problem)
        return web.json_response({"status": "alive"})

    async def readyz(_request: web.Request) -> web.Response:
        problems = [p for p in (stale(), sources.database_error()) if p]
        if not sources.subscribed():
            problems.append("not subscribed to the Mesos master")
        if problems:
            return json_error(503, "; ".join(problems))
        return web.json_response({"status": "ready"})

    app.router.add_get("/metrics", metrics)
    app.router.add_get("/livez", livez)
    app.router.add_get("/readyz", readyz)
