"""The engine: feeds the core with the driver's events and the clock, carries out the core's
``Actions`` through the driver, and keeps the status snapshot and the database in step.

Everything here runs on the one asyncio loop. The core is touched only from this loop, one event
at a time, so it needs no locks; database work goes to threads through ``Database.run``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from scheduler.aio import wait_event
from scheduler.config import Settings
from scheduler.core.actions import Actions
from scheduler.core.scheduler_core import SchedulerCore
from scheduler.mesos.agents import parse_agents
from scheduler.mesos.driver import CallError, MesosDriver
from scheduler.mesos.events import Event, OffersReceived, Subscribed
from scheduler.runtime.calls import BackgroundCalls
from scheduler.status.document import StatusBuilder
from scheduler.status.snapshot import SnapshotHolder, StatusSnapshot
from scheduler.store.database import Database
from scheduler.store.nodes import NodeRow, load_nodes, load_pause_flags, save_nodes
from scheduler.store.scheduler_row import load_scheduler_flags, save_status

log = logging.getLogger(__name__)

CYCLE_INTERVAL_S = 1.0
DB_SYNC_INTERVAL_S = 1.0
FLAGS_EVERY_SYNCS = 3  # pause flags are re-read every few syncs


class Engine:
    def __init__(
        self,
        settings: Settings,
        core: SchedulerCore,
        database: Database,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.core = core
        self.database = database
        self.clock = clock
        self.driver: MesosDriver | None = None
        self.snapshots = SnapshotHolder()
        self.status_builder = StatusBuilder()
        self.calls = BackgroundCalls()
        self._wakeup = asyncio.Event()
        self._poll_now = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self.master_poll_error: str | None = None
        self._syncs = 0

    def attach(self, driver: MesosDriver) -> None:
        self.driver = driver

    # --- inputs ---

    def handle_event(self, event: Event) -> None:
        """The driver's callback: apply the event now, carry out what it asks for in the background."""
        self.execute(self.core.on_event(event, self.clock()))
        if isinstance(event, OffersReceived):
            self._wakeup.set()  # use fresh offers in a cycle right away, not up to a second later
        elif isinstance(event, Subscribed):
            self._poll_now.set()  # learn the agents' totals now, not a poll interval later

    def execute(self, actions: Actions) -> None:
        driver = self.driver
        if driver is None or not actions:
            return
        if actions.decline:
            self.calls.spawn(driver.decline(actions.decline, self.settings.offer_refuse_s), "DECLINE")
        for launch in actions.launch:
            self.calls.spawn(
                driver.launch(launch.offer_ids, launch.task_infos, self.settings.offer_refuse_s),
                f"ACCEPT on agent {launch.agent_id}",
            )
        for status in actions.acknowledge:
            self.calls.spawn(driver.acknowledge(status), f"ACKNOWLEDGE {status.task_id}")
        for task_id, agent_id in actions.kill:
            self.calls.spawn(driver.kill(task_id, agent_id), f"KILL {task_id}")
        for tasks in actions.reconcile:
            self.calls.spawn(driver.reconcile(tasks), "RECONCILE")

    # --- loops ---

    async def start(self) -> None:
        """Load what the database knows, then run the loops until ``stop``."""
        await self._load_nodes()
        self._tasks = [
            asyncio.create_task(self._every(CYCLE_INTERVAL_S, self._cycle, wake=self._wakeup), name="cycle"),
            asyncio.create_task(self._every(self.settings.status_interval_s, self._snapshot), name="snapshot"),
            asyncio.create_task(
                self._every(self.settings.master_poll_interval_s, self._poll_master, wake=self._poll_now), name="agents"
            ),
            asyncio.create_task(self._every(DB_SYNC_INTERVAL_S, self._sync_database), name="db-sync"),
            asyncio.create_task(
                self._every(self.settings.status_persist_interval_s, self._persist_status), name="status-persist"
            ),
        ]

    async def run(self) -> None:
        await self.start()
        await self._stopping.wait()

    async def stop(self) -> None:
        self._stopping.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.calls.drain(timeout_s=2.0)
        with contextlib.suppress(Exception):
            await self._sync_database()  # nodes seen in the last second are not lost

    async def _every(self, interval_s: float, step: Callable[[], Awaitable[None] | None], wake=None) -> None:
        """Run ``step`` every ``interval_s`` (or when ``wake`` is set); a failing step is logged, not fatal."""
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                result = step()
                if asyncio.iscoroutine(result):
                    await result
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s step failed", asyncio.current_task().get_name())
            remaining = interval_s - (time.monotonic() - started)
            if wake is None:
                await asyncio.sleep(max(remaining, 0))
                continue
            await wait_event(wake, remaining)
            wake.clear()

    def _cycle(self) -> None:
        self.execute(self.core.cycle(self.clock()))

    def build_snapshot(self) -> StatusSnapshot:
        now = self.clock()
        started = time.perf_counter()
        self.core.tick(now)
        body = self.status_builder.build(self.core, now)
        return StatusSnapshot(now, body, time.perf_counter() - started)

    def _snapshot(self) -> None:
        snapshot = self.build_snapshot()
        self.snapshots.publish(snapshot)
        if snapshot.build_s > self.settings.status_interval_s / 2:
            log.warning("Building the status took %.3f s", snapshot.build_s)

    async def _poll_master(self) -> None:
        if self.driver is None or not self.driver.subscribed:
            return
        try:
            document = await self.driver.get_master_json("/master/slaves")
            reports = parse_agents(document)
        except (CallError, ValueError) as exc:
            if self.master_poll_error is None:
                log.warning("Cannot read the master's agents (%s); using offers only", exc)
            self.master_poll_error = str(exc)
            return
        if self.master_poll_error is not None:
            log.info("Reading the master's agents again")
        self.master_poll_error = None
        self.core.apply_master_agents(reports, self.clock())

    # --- the database ---

    async def _load_nodes(self) -> None:
        delay = 1.0
        while True:
            try:
                rows = await self.database.run(load_nodes)
                flags = await self.database.run(load_scheduler_flags)
                break
            except Exception as exc:
                log.error("Cannot load nodes from the database (%s); retrying in %.0f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
        now = self.clock()
        for row in rows:
            self.core.nodes.load(row.id, row.hostname, row.is_active, row.is_paused, now)
        self.core.paused = flags.is_paused
        log.info("Loaded %d nodes from the database; scheduler %s", len(rows), "paused" if flags.is_paused else "ready")

    async def _sync_database(self) -> None:
        """Write new and changed nodes; every few rounds, read the pause flags operators set."""
        nodes = sorted(self.core.nodes.take_dirty(), key=lambda n: n.hostname)
        if nodes:
            rows = [NodeRow(n.hostname, n.agent_id, n.is_active, n.is_paused, n.id) for n in nodes]
            try:
                ids = await self.database.run(lambda connection: save_nodes(connection, rows))
            except Exception:
                self.core.nodes.dirty.update(n.hostname for n in nodes)  # try again next round
                raise
            for node in nodes:
                node.id = ids.get(node.hostname, node.id)
        self._syncs += 1
        if self._syncs % FLAGS_EVERY_SYNCS == 0:
            await self._read_flags()

    async def _read_flags(self) -> None:
        flags = await self.database.run(load_scheduler_flags)
        node_flags = await self.database.run(load_pause_flags)
        if flags.is_paused != self.core.paused:
            log.warning("Scheduler %s", "paused" if flags.is_paused else "resumed")
            self.core.paused = flags.is_paused
        for node in self.core.nodes:
            paused = node_flags.get(node.hostname, node.is_paused)
            if paused != node.is_paused:
                log.warning("Node %s %s", node.hostname, "paused" if paused else "resumed")
                node.is_paused = paused

    async def _persist_status(self) -> None:
        snapshot = self.snapshots.current
        if snapshot is not None:
            await self.database.run(lambda connection: save_status(connection, snapshot.body, snapshot.generated_at))
