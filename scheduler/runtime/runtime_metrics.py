"""Prometheus metrics the runtime measures about itself: the event loop's lag, the garbage
collector's pauses, how long a scheduling pass takes and how long calls to the master wait. They live in their own registry, whose text is appended to ``/metrics``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from scheduler.runtime.gc_pauses import GcPauses
from scheduler.runtime.loop_lag import LoopLagMonitor

CALL_BUCKETS_S = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 3.0, 10.0, 30.0, 60.0)  # a slow master: minutes
PASS_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class RuntimeMetrics:
    def __init__(self, *, loop_lag_warn_ms: float) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.loop_lag = LoopLagMonitor(warn_ms=loop_lag_warn_ms, registry=self.registry)
        self.gc_pauses = GcPauses(registry=self.registry)
        self.scheduling_pass = Histogram(
            "scale_scheduler_scheduling_pass_seconds",
            "Time of one scheduling pass on the event loop (offers in hand against the queue)",
            buckets=PASS_BUCKETS_S,
            registry=self.registry,
        )

        self.status_build = Histogram(
            "scale_scheduler_status_build_seconds",
            "Time of a status snapshot's last step on the event loop (what changed since its warm-up, then"
            " the document joined); the warm-up before it runs in slices",
            buckets=PASS_BUCKETS_S,
            registry=self.registry,
        )
        self.cycles = Counter(
            "scale_scheduler_scheduling_cycles",
            "Scheduling cycles, by why new launches waited (the first reason that applied): none,"
            " framework_id (not stored yet), records_failing, records_behind (the writer's backlog),"
            " calls_behind (a call to the master, nearly always an acknowledgement, queued too long)",
            ["launch_hold"],
            registry=self.registry,
        )
        self.call_queued = Histogram(
            "scale_scheduler_master_call_queued_seconds",
            "Time a call to the master (acknowledgement, ACCEPT, DECLINE...) waited for one of the call pool's workers",
            buckets=CALL_BUCKETS_S,
            registry=self.registry,
        )
        self.call_answered = Histogram(
            "scale_scheduler_master_call_seconds",
            "Time from a call to the master being sent to its answer (or its failure)",
            buckets=CALL_BUCKETS_S,
            registry=self.registry,
        )
        self.updates_resent_skipped = Counter(
            "scale_scheduler_task_updates_resent_skipped",
            "Status updates the master sent again while their acknowledgement waited to be made (not applied twice)",
            registry=self.registry,
        )

    def observe_call(self, queued_s: float, answered_s: float) -> None:
        """For ``BackgroundCalls.observe``."""
        self.call_queued.observe(queued_s)
        self.call_answered.observe(answered_s)

    def text(self) -> bytes:
        return generate_latest(self.registry)

    def install(self, app: web.Application) -> None:
        """Measure the loop while the app runs, and append these metrics to its ``/metrics`` answer
        (after the app's own collectors)."""

        async def measuring(_app: web.Application) -> AsyncIterator[None]:
            task = asyncio.create_task(self.loop_lag.run(), name="loop-lag")
            self.gc_pauses.install()
            yield
            self.gc_pauses.uninstall()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

        @web.middleware
        async def append(
            request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
        ) -> web.StreamResponse:
            response = await handler(request)
            if request.path == "/metrics" and isinstance(response, web.Response) and response.status == 200:
                response.body = bytes(response.body or b"") + self.text()
            return response

        app.middlewares.append(append)
        app.cleanup_ctx.append(measuring)
