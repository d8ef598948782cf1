"""The scheduler process: API server, database, Mesos driver and engine on one asyncio loop.

``run_daemon`` is what ``scale-scheduler run`` and ``scale-scheduler dev`` execute. Each part is one
step of an aiohttp cleanup context (``STEPS``, in dependency order): a step starts its part, yields
while the scheduler runs, and stops it once every later step has stopped. SIGTERM or SIGINT stops
them in reverse; a plain stop never sends TEARDOWN: Mesos keeps the tasks for the failover timeout
and a restart picks them up again.

The steps live on an application of their own, never served: aiohttp starts a served application's
cleanup context before it listens, and the API must answer while this instance migrates the
database or stands by behind another leader.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from scheduler import __version__
from scheduler.aio import wait_event
from scheduler.api.app import create_app
from scheduler.api.database_status import DatabaseStatus
from scheduler.api.health import HealthSources
from scheduler.api.server import ConnectionLimits
from scheduler.api.server import start_api as serve_api
from scheduler.backoff import Backoff
from scheduler.config import Settings
from scheduler.core.state import CoreState
from scheduler.dependencies.monitor import DependencyMonitor
from scheduler.mesos.calls import FrameworkSpec
from scheduler.mesos.driver import DriverOptions, MesosDriver
from scheduler.mesos.master_detector import ZooKeeperDetector, detector_for, is_zk_url
from scheduler.redact import mask_url
from scheduler.runtime.engine import Engine
from scheduler.runtime.handlers import InProcessHandlers
from scheduler.runtime.leadership import Leadership
from scheduler.runtime.runtime_metrics import RuntimeMetrics
from scheduler.scheduling.system_tasks import TaskTemplate
from scheduler.status.snapshot import SnapshotHolder, StatusSnapshot
from scheduler.store.database import Database
from scheduler.store.scheduler_row import DatabaseFrameworkIdStore
from scheduler.task_environment import system_task_environment
from scheduler.tls import client_ssl_context

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_S = 5.0


@functools.cache
def scheduler_hostname() -> str:
    """The host's name, once: ``getfqdn`` may wait on a reverse DNS lookup."""
    return socket.getfqdn()


def framework_spec(settings: Settings) -> FrameworkSpec:
    return FrameworkSpec(
        user=settings.mesos_user,
        name=settings.framework_name,
        role=settings.mesos_role,
        hostname=scheduler_hostname(),
        failover_timeout_s=settings.failover_timeout_s,
        principal=settings.mesos_principal,
    )


def driver_options(settings: Settings) -> DriverOptions:
    return DriverOptions(
        master_url="" if is_zk_url(settings.mesos_master_url) else settings.mesos_master_url,  # zk: detected
        call_timeout_s=settings.call_timeout_s,
        missed_heartbeats=settings.missed_heartbeats,
        backoff_max_s=settings.backoff_max_s,
        principal=settings.mesos_principal,
        secret=settings.mesos_secret,
        ssl=client_ssl_context(settings),
    )


def stop_on_signals(stop: asyncio.Event | None = None) -> asyncio.Event:
    """An event set by SIGTERM or SIGINT (where the loop can handle signals)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
    return stop


async def migrate_until_ready(database: Database, stop: asyncio.Event) -> bool:
    """Run migrations, retrying while the database is unreachable; False if stopped first."""
    backoff = Backoff(1.0, 30.0)
    while not stop.is_set():
        migration = asyncio.ensure_future(database.migrate())
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait({migration, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if not migration.done():  # stopped while a migration waits on the database: leave it
            migration.cancel()
            return False
        try:
            migration.result()
            log.info("Database %s is ready", database.display_url)
            return True
        except Exception as exc:
            delay = backoff.next()
            log.error("Database %s is not ready (%s); retrying in %.1f s", database.display_url, exc, delay)
            await wait_event(stop, delay)
    return False


class MemoryStatus:
    """The status source of a running scheduler: its own newest snapshot."""

    def __init__(self, holder: SnapshotHolder, freshness_s: float) -> None:
        self.holder, self.freshness_s = holder, freshness_s

    def current(self) -> StatusSnapshot | None:
        return self.holder.current


class LeaderOrStoredStatus:
    """The leader serves its own snapshots; a standby serves the leader's, from the database."""

    def __init__(self, memory: MemoryStatus, stored: DatabaseStatus) -> None:
        self.memory, self.stored = memory, stored
        self.leading = False
        self.freshness_s = memory.freshness_s
        self.standby_over = asyncio.Event()  # set once this instance leads (or stops): the reader ends

    def current(self) -> StatusSnapshot | None:
        return self.memory.current() if self.leading else self.stored.current()


def system_task_template(settings: Settings) -> TaskTemplate:
    """How message handlers and the database update are started on an agent: the same settings."""
    return TaskTemplate(image=settings.scale_docker_image, environment=system_task_environment(settings))


def create_core(settings: Settings, now: float) -> CoreState:
    state = CoreState(
        hostname=scheduler_hostname(),
        now=now,
        accepted_role=settings.accepted_resource_role,
        metrics_window_s=settings.metrics_window_s,
        node_retire_after_s=settings.node_retire_after_s,
        task_template=system_task_template(settings),
        message_handlers_in_process=settings.message_handler_mode == "in-process",
        logging_health_address=settings.logging_health_address,
        unreachable_timeout_s=settings.unreachable_timeout_s,
        outcome_wait_s=settings.outcome_wait_s,
        pause_failing_nodes=settings.pause_failing_nodes,
        max_launches_in_flight=settings.max_launches_in_flight,
    )
    return state


def health_sources(settings: Settings, engine: Engine, driver: MesosDriver, monitor: DependencyMonitor):
    def dependencies() -> dict:
        return monitor.sections().get("dependencies", {})

    def database_error() -> str | None:
        if engine.writer.error:
            return f"database writes failing: {engine.writer.error}"
        if not dependencies().get("database", {}).get("OK", True):
            return "the database check failed"
        return None

    def snapshot_time() -> float | None:
        snapshot = engine.snapshots.current
        return snapshot.generated_at if snapshot else None

    def view():
        snapshot = engine.snapshots.current
        return snapshot.view if snapshot else None

    return HealthSources(
        view=view,
        snapshot_time=snapshot_time,
        subscribed=lambda: driver.subscribed,
        database_error=database_error,
        dependencies=dependencies,
        freshness_s=settings.status_freshness_s,
    )


@dataclass
class Daemon:
    """The running parts, reachable by the steps, by tests and by the dev-mode banner."""

    settings: Settings
    engine: Engine
    driver: MesosDriver
    database: Database
    monitor: DependencyMonitor
    leadership: Leadership
    status: LeaderOrStoredStatus
    stop: asyncio.Event
    prepare: Callable[[Database], Awaitable[None]] | None = None
    api_url: str = ""
    lost: asyncio.Event = field(default_factory=asyncio.Event)  # the leader lock's session broke
    tasks: list[asyncio.Task] = field(default_factory=list)  # what ending early stops the scheduler
    detector: ZooKeeperDetector | None = None  # with a zk:// MESOS_MASTER_URL


DAEMON = web.AppKey("daemon", Daemon)


def listen_text(host: str, api_url: str) -> str:
    """Where the API really listens: the configured address and the port actually bound."""
    port = api_url.rsplit(":", 1)[-1]
    if host in ("", "0.0.0.0", "::"):
        return f"{host or '0.0.0.0'} port {port}, every interface"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Stopped(Exception):
    """Asked to stop while a step was starting: the steps already started are stopped, exit 0."""


class CannotListen(Exception):
    """The API's address is taken or not ours: exit 1."""


def build_daemon(
    settings: Settings,
    stop: asyncio.Event,
    prepare: Callable[[Database], Awaitable[None]] | None = None,
    dependency_overrides: dict | None = None,
) -> Daemon:
    """The parts, wired together; nothing connects or listens yet."""
    database = Database(
        settings.database_url, settings.database_timeout_s, sslmode=settings.database_sslmode, ca_file=settings.ca_file
    )
    core = create_core(settings, time.time())
    snapshots = SnapshotHolder()  # the engine publishes here; the probes read only what it published

    def gauge(name: str) -> int:
        snapshot = snapshots.current
        return int(snapshot.view.gauges.get(name, 0)) if snapshot and snapshot.view else 0

    def node_states() -> list[str]:
        snapshot = snapshots.current
        view = snapshot.view if snapshot else None
        return [node.state for node in view.nodes if node.node_id is not None] if view else []

    monitor = DependencyMonitor(
        settings,
        database,
        num_message_handlers=lambda: gauge("message_handlers_desired"),
        node_states=node_states,
        # The nodes check reads memory only: it can follow the snapshots rather than the probe cadence.
        **{"intervals": {"nodes": settings.status_interval_s}, **(dependency_overrides or {})},
    )
    engine = Engine(
        settings, core, database, sections=monitor.sections, probe_results=monitor.results, snapshots=snapshots
    )
    if settings.message_handler_mode == "in-process":
        # Started, resized and stopped (before the engine's last writes) by the engine itself.
        engine.handlers = InProcessHandlers(settings, database)
    driver = MesosDriver(
        framework_spec(settings), driver_options(settings), engine.handle_event, DatabaseFrameworkIdStore(database)
    )
    engine.attach(driver)
    status = LeaderOrStoredStatus(
        MemoryStatus(engine.snapshots, settings.status_freshness_s),
        DatabaseStatus(database, settings.status_freshness_s),
    )
    daemon = Daemon(settings, engine, driver, database, monitor, Leadership(database), status, stop, prepare)
    daemon.detector = detector_for(settings.mesos_master_url, settings.mesos_master_scheme, driver.set_master)
    engine.listings.detector = daemon.detector  # its problem() becomes the MASTER_DETECTION warning
    return daemon


async def start_api(
    app: web.Application, host: str, port: int, limits: ConnectionLimits | None = None
) -> tuple[web.AppRunner, str]:
    return await serve_api(app, host, port, limits)  # connection cap and timeouts: scheduler/api/server.py


async def _finish(tasks: list[asyncio.Task], grace_s: float = SHUTDOWN_GRACE_S) -> None:
    """Let ``tasks`` end within ``grace_s``, then cancel what is left."""
    if not tasks:
        return
    _done, pending = await asyncio.wait(tasks, timeout=grace_s)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


# --- the steps, in start order ----------------------------------------------------------------


async def database_step(app: web.Application) -> Any:
    """Closed last: every other part may use it until it stops."""
    daemon = app[DAEMON]
    try:
        yield
    finally:
        await daemon.database.close()


async def api_step(app: web.Application) -> Any:
    """Served from the start: the probes and a standby's stored status answer while the rest waits."""
    daemon = app[DAEMON]
    settings = daemon.settings
    api = create_app(
        status=daemon.status,
        health=health_sources(settings, daemon.engine, daemon.driver, daemon.monitor),
        bench_routes=settings.bench_routes,
        database=daemon.database,
        settings=settings,
        on_change=daemon.engine.read_flags,  # a change made through the API is followed at once, not in 3 s
    )
    runtime_metrics = RuntimeMetrics(loop_lag_warn_ms=settings.loop_lag_warn_ms)  # loop lag, pass time
    runtime_metrics.install(api)
    daemon.engine.scheduling_pass = runtime_metrics.scheduling_pass
    daemon.engine.status_build = runtime_metrics.status_build
    daemon.engine.resent_skipped_counter = runtime_metrics.updates_resent_skipped
    daemon.engine.cycles_counter = runtime_metrics.cycles
    daemon.engine.calls.observe = runtime_metrics.observe_call
    daemon.engine.loop_lag = runtime_metrics.loop_lag  # its problem becomes the EVENT_LOOP_LAG warning
    try:
        runner, daemon.api_url = await start_api(
            api, settings.api_host, settings.api_port, ConnectionLimits.from_settings(settings)
        )
    except OSError as exc:
        log.error("Cannot listen on %s:%d: %s", settings.api_host, settings.api_port, exc.strerror or exc)
        raise CannotListen from exc
    log.info(
        "scale-scheduler %s serving the API on %s (listening on %s)",
        __version__,
        daemon.api_url,
        listen_text(daemon.settings.api_host, daemon.api_url),
    )
    try:
        yield
    finally:
        await runner.cleanup()


async def migrations_step(app: web.Application) -> Any:
    """The schema first: nothing reads a table before it exists (then the dev-mode job types)."""
    daemon = app[DAEMON]
    if not await migrate_until_ready(daemon.database, daemon.stop):
        raise Stopped
    if daemon.prepare is not None:
        await daemon.prepare(daemon.database)
    yield


async def standby_status_step(app: web.Application) -> Any:
    """Until this instance leads, the API serves the leader's status from the database."""
    status = app[DAEMON].status
    reader = asyncio.create_task(status.stored.run(status.standby_over), name="standby-status")
    try:
        yield
    finally:
        status.standby_over.set()
        await asyncio.gather(reader, return_exceptions=True)


async def monitor_step(app: web.Application) -> Any:
    """The dependency checks run on a standby too: its status shows them."""
    monitor = app[DAEMON].monitor
    await monitor.start()
    try:
        yield
    finally:
        await monitor.stop()


async def leadership_step(app: web.Application) -> Any:
    """Wait for the leader lock, then watch it: a leader that loses it stops at once."""
    daemon = app[DAEMON]
    watch: asyncio.Task | None = None
    try:
        if not await daemon.leadership.acquire(daemon.stop):
            raise Stopped
        daemon.status.standby_over.set()
        daemon.status.leading = True
        watch = asyncio.create_task(daemon.leadership.watch(daemon.lost), name="leadership")
        daemon.tasks.append(watch)
        yield
    finally:
        if watch is not None:
            watch.cancel()  # watching the lock ends with the process, not by itself
            await asyncio.gather(watch, return_exceptions=True)
        await daemon.leadership.release()


async def mesos_driver_step(app: web.Application) -> Any:
    """Stopped after the engine, whose last calls (acknowledgements, launches) still go through it."""
    daemon = app[DAEMON]
    settings = daemon.settings
    log.info(
        "Mesos master %s, role %s, failover timeout %.0f s",
        mask_url(settings.mesos_master_url),
        settings.mesos_role,
        settings.failover_timeout_s,
    )
    try:
        yield
    finally:
        await daemon.driver.stop(teardown=False)
        await _finish([task for task in daemon.tasks if task.get_name() == "mesos-driver"])
        if daemon.detector is not None:
            await daemon.detector.stop()


async def engine_step(app: web.Application) -> Any:
    """The engine loads what the database knows before the first event can arrive: an update for a
    task it had not loaded yet would look like a stranger's and be killed."""
    daemon = app[DAEMON]
    engine = daemon.engine
    stopped: asyncio.Task | None = None
    try:
        if not await engine.start(daemon.stop):
            raise Stopped
        stopped = asyncio.create_task(engine.wait_stopped(), name="engine")
        daemon.tasks.append(stopped)
        yield
    finally:
        await engine.stop()
        if stopped is not None:
            await stopped


async def subscription_step(app: web.Application) -> Any:
    """Events flow from here on; muted first when stopping, so nothing new reaches the engine while it
    winds down (the master resends what was missed)."""
    daemon = app[DAEMON]
    if daemon.detector is not None:
        daemon.detector.start()  # finds the leading master; the driver waits for it
    daemon.tasks.append(asyncio.create_task(daemon.driver.run(), name="mesos-driver"))
    try:
        yield
    finally:
        daemon.driver.mute()


STEPS = [
    database_step,
    api_step,
    migrations_step,
    standby_status_step,
    monitor_step,
    leadership_step,
    mesos_driver_step,
    engine_step,
    subscription_step,
]


async def run_until_stopped(daemon: Daemon) -> int:
    """Wait for a stop, a lost lock or a part that ends by itself; the exit code."""
    waiters = [asyncio.create_task(daemon.stop.wait()), asyncio.create_task(daemon.lost.wait())]
    done, _ = await asyncio.wait([*waiters, *daemon.tasks], return_when=asyncio.FIRST_COMPLETED)
    for waiter in waiters:
        waiter.cancel()
    for task in done:
        if task not in waiters and not task.cancelled() and task.exception() is not None:
            log.error("%s crashed", task.get_name(), exc_info=task.exception())
            return 1
    if daemon.lost.is_set() or daemon.driver.superseded:
        log.error("Stopping: this scheduler no longer leads (it exits so that it restarts as a standby)")
        return 1
    log.info("Stopping (the framework stays registered; Mesos keeps its tasks)")
    return 0


async def run_daemon(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    on_started: Callable[[Daemon], Awaitable[None] | None] | None = None,
    prepare: Callable[[Database], Awaitable[None]] | None = None,
    dependency_overrides: dict | None = None,
) -> int:
    """Run until ``stop`` is set (or SIGTERM/SIGINT); returns the process exit code."""
    daemon = build_daemon(settings, stop_on_signals(stop), prepare, dependency_overrides)
    lifecycle = web.Application()  # never served: it only runs the steps
    lifecycle[DAEMON] = daemon
    lifecycle.cleanup_ctx.extend(STEPS)
    lifecycle.freeze()
    try:
        await lifecycle.startup()
        if on_started is not None:
            result = on_started(daemon)
            if asyncio.iscoroutine(result):
                await result
        return await run_until_stopped(daemon)
    except Stopped:
        return 0
    except CannotListen:
        return 1
    finally:
        try:
            await lifecycle.cleanup()
        except Exception:
            log.exception("Stopping a part failed")
        log.info("Stopped")
