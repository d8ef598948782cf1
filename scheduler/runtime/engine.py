"""The engine: feeds the core with the driver's events, the clock and the database, carries out the
core's ``Actions``, and keeps the status snapshot and the database in step.

Everything here runs on the one asyncio loop. The core is touched only from this loop, one event
at a time, so it needs no locks; database work goes to threads through ``Database.run``. Records
are written before the calls that depend on them (see ``RecordWriter``): a try is in the database
before its task is launched, and an update is stored before it is acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial

from scheduler.aio import wait_event
from scheduler.config import Settings
from scheduler.core.actions import Actions, Launch
from scheduler.core.records import ExeLaunched
from scheduler.core.scheduler_core import SchedulerCore
from scheduler.jobs.exe_metrics import window_start
from scheduler.mesos import calls
from scheduler.mesos.agents import parse_agents
from scheduler.mesos.driver import CallError, MesosDriver
from scheduler.mesos.events import Event, OffersReceived, Subscribed
from scheduler.runtime.calls import BackgroundCalls
from scheduler.runtime.writer import RecordWriter
from scheduler.status.document import StatusBuilder
from scheduler.status.snapshot import SnapshotHolder, StatusSnapshot
from scheduler.store.database import Database
from scheduler.store.ingest import describe_database_error
from scheduler.store.job_types import load_job_types
from scheduler.store.nodes import NodeRow, load_nodes, load_pause_flags, save_nodes
from scheduler.store.scheduler_row import load_scheduler_flags, save_status
from scheduler.store.scheduling import load_finished_exes, load_queued_jobs, load_running_exes

log = logging.getLogger(__name__)

CYCLE_INTERVAL_S = 1.0
DB_SYNC_INTERVAL_S = 1.0
FLAGS_EVERY_SYNCS = 3  # pause flags and the handler count are re-read every few syncs
JOB_TYPES_EVERY_SYNCS = 10
BUSY_REFUSE_S = 1.0  # refuse filter while work waits for resources
WRITER_BACKLOG_LIMIT = 50  # record batches waiting: past this, new launches wait (and offers go back)


class Engine:
    def __init__(
        self,
        settings: Settings,
        core: SchedulerCore,
        database: Database,
        *,
        clock: Callable[[], float] = time.time,
        sections: Callable[[], dict] | None = None,
    ) -> None:
        self.settings = settings
        self.core = core
        self.database = database
        self.clock = clock
        self.sections = sections  # extra status sections owned elsewhere (dependencies, vault)
        self.driver: MesosDriver | None = None
        self.snapshots = SnapshotHolder()
        self.status_builder = StatusBuilder()
        self.calls = BackgroundCalls()
        self.writer = RecordWriter(database, settings.secret_values())
        self.handlers = None  # InProcessHandlers when message handlers run inside this process
        self._wakeup = asyncio.Event()
        self._poll_now = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self.master_poll_error: str | None = None
        self._syncs = 0
        self._max_job_id = 0
        self._step_errors: dict[str, tuple[str, float]] = {}
        self._secrets = settings.secret_values()

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
        """Carry out actions: calls that need nothing at once, the rest after their records are written."""
        driver = self.driver
        if driver is None or not actions:
            return
        if actions.decline:
            self.calls.spawn(partial(driver.decline, actions.decline, self._refuse_s()), "DECLINE")
        for task_id, agent_id in actions.kill:
            self.calls.spawn(partial(driver.kill, task_id, agent_id), f"KILL {task_id}", key=("kill", task_id))
        for tasks in actions.reconcile:
            self.calls.spawn(partial(driver.reconcile, tasks), "RECONCILE")
        if actions.launch or actions.acknowledge or actions.records:
            # Only a launch may be given up (its offers will not wait). The end of a try is written,
            # however long that takes, whether or not its update carries an acknowledgement.
            droppable = bool(actions.launch) and all(isinstance(r, ExeLaunched) for r in actions.records)
            self.writer.submit(actions.records, lambda ok: self._after_write(actions, ok), droppable=droppable)

    def _refuse_s(self) -> float:
        # With work waiting, declined resources should come back at the next allocation, not later.
        refuse_s = self.settings.offer_refuse_s
        return min(BUSY_REFUSE_S, refuse_s) if self.core.work_waits else refuse_s

    def _after_write(self, actions: Actions, ok: bool) -> None:
        driver = self.driver
        if driver is None:
            return
        if not ok:
            now = self.clock()
            for launch in actions.launch:
                log.warning(
                    "Not launching %d tasks on agent %s: their records could not be written",
                    len(launch.tasks),
                    launch.agent_id,
                )
                refused = self.core.launch_refused(launch, now, written=False)
                refused.decline += launch.offer_ids
                self.execute(refused)
            return
        for launch in actions.launch:
            self.calls.spawn(partial(self._launch, driver, launch), f"ACCEPT on agent {launch.agent_id}")
        for status in actions.acknowledge:
            # The master resends an update until it is acknowledged: one acknowledgement is enough.
            key = ("ack", status.task_id, status.uuid)
            self.calls.spawn(partial(driver.acknowledge, status), f"ACKNOWLEDGE {status.task_id}", key=key)

    async def _launch(self, driver: MesosDriver, launch: Launch) -> None:
        try:
            await driver.launch(launch.offer_ids, [calls.task_info_of(spec) for spec in launch.tasks], self._refuse_s())
        except CallError as exc:
            now = self.clock()
            task_ids = [spec.task_id for spec in launch.tasks]
            if exc.status == 0:
                # No answer: the master may or may not have the tasks. Ask it rather than guess.
                log.warning(
                    "ACCEPT on agent %s got no answer (%s); reconciling its %d tasks",
                    launch.agent_id,
                    exc.detail,
                    len(task_ids),
                )
                self.execute(self.core.reconcile_now(task_ids, now))
            else:
                log.warning("ACCEPT on agent %s refused (%s): its tasks never ran", launch.agent_id, exc)
                self.execute(self.core.launch_refused(launch, now, written=True))

    # --- loops ---

    async def start(self, stop: asyncio.Event | None = None) -> bool:
        """Load what the database knows, then start the loops; False if ``stop`` came first."""
        if not await self._load(stop or self._stopping):
            return False
        self._tasks = [
            asyncio.create_task(self.writer.run(), name="record-writer"),
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
        return True

    async def wait_stopped(self) -> None:
        await self._stopping.wait()

    async def stop(self) -> None:
        self._stopping.set()
        for task in self._tasks[1:]:  # the writer last: what is submitted gets its chance
            task.cancel()
        await asyncio.gather(*self._tasks[1:], return_exceptions=True)
        if self.handlers is not None:
            await self.handlers.stop()
        # Records first: their writes release the acknowledgements and launches still to be sent.
        if not await self.writer.drain(timeout_s=3.0):
            log.warning(
                "Stopping with %d record batches unwritten; the master will resend their updates", len(self.writer)
            )
        if self._tasks:
            self._tasks[0].cancel()
            await asyncio.gather(self._tasks[0], return_exceptions=True)
        await self.calls.drain(timeout_s=2.0)
        try:
            await self._save_nodes(timeout_s=2.0)  # nodes seen in the last second are not lost
        except Exception as exc:
            log.warning("Last node write failed: %s", "timed out" if isinstance(exc, TimeoutError) else exc)

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
            except Exception as exc:
                self._step_failed(asyncio.current_task().get_name(), exc)
            else:
                self._step_errors.pop(asyncio.current_task().get_name(), None)
            remaining = interval_s - (time.monotonic() - started)
            if wake is None:
                await asyncio.sleep(max(remaining, 0))
                continue
            await wait_event(wake, remaining)
            wake.clear()

    def _step_failed(self, name: str, exc: Exception) -> None:
        """Log a failing loop step without flooding: the first time in full, then a line a minute."""
        text = "timed out" if isinstance(exc, TimeoutError) else describe_database_error(exc, self._secrets)
        last = self._step_errors.get(name)
        now = time.monotonic()
        if last is None or last[0] != text:
            log.error("%s step failed: %s", name, text, exc_info=not isinstance(exc, (TimeoutError, OSError)))
            self._step_errors[name] = (text, now)
        elif now - last[1] >= 60:
            log.error("%s step still failing: %s", name, text)
            self._step_errors[name] = (text, now)

    def _cycle(self) -> None:
        # No launch while its framework id or its records cannot be stored: a crash would orphan it.
        driver = self.driver
        self.core.hold_launches = (
            driver is None
            or not driver.framework_id_saved
            or self.writer.error is not None
            or len(self.writer) > WRITER_BACKLOG_LIMIT
        )
        self.execute(self.core.cycle(self.clock()))

    def build_snapshot(self) -> StatusSnapshot:
        now = self.clock()
        started = time.perf_counter()
        self.core.tick(now)
        body = self.status_builder.build(self.core, now, self.sections() if self.sections else None)
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

    async def _load(self, stop: asyncio.Event) -> bool:
        """Nodes, job types, queued jobs, running tries and the last three hours' ends (retried)."""
        delay = 1.0
        while not stop.is_set():
            try:
                nodes = await self.database.run(load_nodes)
                flags = await self.database.run(load_scheduler_flags)
                job_types = await self.database.run(load_job_types)
                running = await self.database.run(load_running_exes)
                now = self.clock()
                since = window_start(now)
                finished = await self.database.run(
                    lambda connection, since=since: load_finished_exes(connection, since)
                )
                queued = await self.database.run(load_queued_jobs)
                break
            except Exception as exc:
                error = "timed out" if isinstance(exc, TimeoutError) else describe_database_error(exc, self._secrets)
                log.error("Cannot load the scheduler's state from the database (%s); retrying in %.0f s", error, delay)
                await wait_event(stop, delay)
                delay = min(delay * 2, 30.0)
        else:
            return False
        core = self.core
        for row in nodes:
            core.nodes.load(row.id, row.hostname, row.is_active, row.is_paused, now)
        self._apply_flags(flags)
        core.set_job_types(job_types)
        for row in running:
            core.adopt_running_exe(row.exe, row.priority, row.queued_at, now)
        for row in finished:
            core.exe_metrics.finished(row.node_id, row.job_type_id, row.status, row.category, row.ended, now)
        core.add_queued_jobs(queued)
        self._max_job_id = max([job.job_id for job in queued] + [row.exe.job_id for row in running], default=0)
        log.info(
            "Loaded %d nodes, %d job types, %d queued jobs, %d running tries, %d recent ends; scheduler %s",
            len(nodes),
            len(job_types),
            len(queued),
            len(running),
            len(finished),
            "paused" if flags.is_paused else "ready",
        )
        return True

    def _apply_flags(self, flags) -> None:
        if flags.is_paused != self.core.paused:
            log.warning("Scheduler %s", "paused" if flags.is_paused else "resumed")
            self.core.paused = flags.is_paused
        self.core.messaging.desired_count = flags.num_message_handlers
        if self.handlers is not None:
            self.handlers.resize(flags.num_message_handlers)

    async def _save_nodes(self, timeout_s: float | None = None) -> None:
        nodes = sorted(self.core.nodes.take_dirty(), key=lambda n: n.hostname)
        if not nodes:
            return
        rows = [NodeRow(n.hostname, n.agent_id, n.is_active, n.is_paused, n.id) for n in nodes]
        try:
            ids = await self.database.run(lambda connection: save_nodes(connection, rows), timeout_s=timeout_s)
        except Exception:
            self.core.nodes.dirty.update(n.hostname for n in nodes)  # try again next round
            raise
        for node in nodes:
            node.id = ids.get(node.hostname, node.id)

    async def _sync_database(self) -> None:
        """Write new and changed nodes; read new jobs; every few rounds, flags and job types."""
        await self._save_nodes()
        self._syncs += 1
        if self.handlers is not None:
            self.core.messaging.in_process_count = self.handlers.alive_count()
        if self._syncs % JOB_TYPES_EVERY_SYNCS == 0:
            self.core.set_job_types(await self.database.run(load_job_types))
        # New jobs by id each round; every few rounds all of them, since ids from concurrent
        # transactions can commit out of order.
        after = 0 if self._syncs % JOB_TYPES_EVERY_SYNCS == 0 else self._max_job_id
        queued = await self.database.run(lambda connection: load_queued_jobs(connection, after))
        if queued:
            self._max_job_id = max(self._max_job_id, max(job.job_id for job in queued))
            if self.core.add_queued_jobs(queued):
                self._wakeup.set()
        if self._syncs % FLAGS_EVERY_SYNCS == 0:
            await self._read_flags()

    async def _read_flags(self) -> None:
        self._apply_flags(await self.database.run(load_scheduler_flags))
        node_flags = await self.database.run(load_pause_flags)
        for node in self.core.nodes:
            paused = node_flags.get(node.hostname, node.is_paused)
            if paused != node.is_paused:
                log.warning("Node %s %s", node.hostname, "paused" if paused else "resumed")
                node.is_paused = paused

    async def _persist_status(self) -> None:
        snapshot = self.snapshots.current
        if snapshot is not None:
            await self.database.run(lambda connection: save_status(connection, snapshot.body, snapshot.generated_at))
