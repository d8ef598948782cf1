"""The engine: the one owner of the core. Everything that changes the core is an input posted to
one queue and applied in order by one consumer on the asyncio loop; the engine carries out the
``Actions`` each input returns, and publishes a status snapshot built from the core between inputs.

Inputs come from the driver (the master's events), the database (job batches, flags, node ids), the
record writer (``WriteDone``), calls to the master that failed (``LaunchRefused``,
``LaunchUnanswered``), the master's agent listing and the scheduling clock (``Tick``, ``Cycle``).
Records are written before the calls that depend on them (see ``RecordWriter``): a try is in the
database before its ACCEPT is sent, and an update is stored before it is acknowledged.

The driver, the writer, the background calls and the database gateway are passed in (or made from
the settings), so tests run the engine against fakes and a fake clock (tests/engine/harness.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from scheduler.aio import wait_event
from scheduler.api import encodings
from scheduler.config import Settings
from scheduler.core.actions import Actions, Launch
from scheduler.core.apply import apply
from scheduler.core.events import Disconnected, OfferRescinded, OffersReceived, Subscribed, TaskUpdate
from scheduler.core.inputs import (
    AgentsListed,
    Cycle,
    HandlersAlive,
    Input,
    JobsQueued,
    LaunchAnswered,
    LaunchRefused,
    LaunchUnanswered,
    OffersHeld,
    OffersWanted,
    Tick,
    WriteDone,
)
from scheduler.core.offer_etiquette import SUPPRESS, HeldOffers, OfferEtiquette
from scheduler.core.records import ExeLaunched, NodeRecord
from scheduler.core.state import CoreState
from scheduler.dependencies.database_probe import WriteHealth
from scheduler.loop_turns import TURN_BUDGET_S, Slice
from scheduler.mesos import calls
from scheduler.mesos.driver import CallError
from scheduler.offers.surplus_returns import MAX_S as SURPLUS_MAX_S
from scheduler.offers.surplus_returns import MIN_S as SURPLUS_MIN_S
from scheduler.offers.surplus_returns import SurplusReturns
from scheduler.runtime.call_pool import BackgroundCalls, acknowledgement_key
from scheduler.runtime.master_listings import MasterListings
from scheduler.runtime.state_store import NewJobIds, StateStore
from scheduler.runtime.writer import MAX_RECORDS_PER_WRITE, RecordWriter
from scheduler.status.core_view import ViewBuilder
from scheduler.status.document import StatusBuilder
from scheduler.status.snapshot import SnapshotHolder, StatusSnapshot
from scheduler.store.database import Database
from scheduler.store.ingest import describe_database_error

log = logging.getLogger(__name__)

CYCLE_INTERVAL_S = 1.0
TICK_INTERVAL_S = 1.0  # node rules, windows and warnings advance at most this often
DB_SYNC_INTERVAL_S = 1.0
FLAGS_EVERY_SYNCS = 3  # pause flags and the handler count are re-read every few syncs
JOB_TYPES_EVERY_SYNCS = 10
BUSY_REFUSE_S = 1.0  # refuse filter while work waits for resources
# Records waiting to be written (ten writes' worth): past this, new launches wait (and offers go back).
# Counted in records, not batches: each task update is a batch of one, so a burst of updates would
# otherwise hold launches while the writer is nowhere near behind.
WRITER_BACKLOG_RECORDS = 10 * MAX_RECORDS_PER_WRITE
# New launches wait while the call queued longest for the master (nearly always an acknowledgement:
# three per task) has waited this long. An update not acknowledged within 10 s is sent again by its
# agent, and again: a scheduler that places faster than it acknowledges spends itself on the resends
# (at 100,000 tasks they outnumbered the updates) and its acknowledgements fall further behind.
CALLS_WAIT_HOLD_S = 3.0
AGENTS_PER_INPUT = 1000  # agents of a listing per input (about 3 ms to take in on the reference machine)
# New queued jobs per input. At 5,000 an input took 25 ms at the median and up to 136 ms at the start
# of a 100,000-job burst (bench-scale, 2-core VM): that many new entries rebuild their type's whole
# heap (``JobQueue.add_many``), a cost that grows with the queue. At 1,000 they are pushed one by one
# once a type holds some 17,000, and an input costs a few milliseconds whatever the queue's length.
JOBS_PER_INPUT = 1000
INPUTS_PER_TURN = 5000  # inputs applied before the consumer lets the loop run other work
# ... or once its slice is over (``loop_turns``): 5,000 status updates take half a second, which every
# request and every call waited out (the loop's lag is a goal of its own: p99 under 50 ms).


class Engine:
    def __init__(
        self,
        settings: Settings,
        state: CoreState,
        database: Database | None,
        *,
        clock: Callable[[], float] = time.time,
        sections: Callable[[], dict] | None = None,
        driver: Any = None,
        writer: Any = None,
        calls: Any = None,
        store: Any = None,
        snapshots: SnapshotHolder | None = None,
        probe_results: Callable[[], dict] | None = None,
    ) -> None:
        self.settings = settings
        self.state = state
        self.database = database
        self.clock = clock
        self.sections = sections  # extra status sections owned elsewhere (dependencies, vault)
        self.probe_results = probe_results  # the dependency probes' results, with when each was taken
        self.write_health = WriteHealth()  # the writer's failures shown in dependencies.database
        self.driver = driver  # a MesosDriver, attached once made
        self.snapshots = snapshots if snapshots is not None else SnapshotHolder()
        self.status_builder = StatusBuilder()
        self.view_builder = ViewBuilder()
        self.calls = calls if calls is not None else BackgroundCalls()
        self.calls.acknowledger = self._acknowledge
        self.writer = writer if writer is not None else RecordWriter(database, settings.secret_values())
        self.store = store if store is not None else StateStore(database)
        self.handlers = None  # InProcessHandlers when message handlers run inside this process
        self._inputs: deque[Input] = deque()
        self._input_ready = asyncio.Event()
        self.scheduling_pass = None  # a Prometheus histogram of the passes' durations, when one is attached
        self.status_build = None  # a Prometheus histogram of the snapshots' last, unbroken step, when attached
        self.loop_lag = None  # a LoopLagMonitor, when one is attached: its problem goes in with each Tick
        self._wakeup = asyncio.Event()
        self._poll_now = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._syncs = 0
        self._job_ids = NewJobIds()
        self._last_tick: float | None = None
        self.updates_resent_skipped = 0  # updates the master sent again while their acknowledgement waited
        self.resent_skipped_counter = None  # a Prometheus counter of them, when one is attached
        self.cycles_counter = None  # a Prometheus counter of cycles by launch hold reason, when attached
        self._node_rows: dict[str, NodeRecord] = {}  # node rows to write, newest per hostname
        self._step_errors: dict[str, tuple[str, float]] = {}
        self._secrets = settings.secret_values()
        # Offer etiquette: SUPPRESS/REVIVE, and how long offers stay in our hands.
        self.etiquette = OfferEtiquette()
        self.held_offers = HeldOffers()
        self.surplus_returns = SurplusReturns()
        self._offers_held_warned = False
        self._offers_wanted: bool | None = None  # as last told to the core
        # The master's agents and frameworks, and the ZooKeeper detector's problem (its ``detector``
        # is set by the daemon with zk://).
        self.listings = MasterListings(settings, clock)

    def attach(self, driver) -> None:
        self.driver = driver

    # --- the one queue ---

    def post(self, item: Input) -> None:
        """Queue an input for the core; applied in order by the consumer (or ``apply_pending``)."""
        self._inputs.append(item)
        self._input_ready.set()

    def handle_event(self, event) -> None:
        """The driver's callback: the master's event joins the queue."""
        self.post(event)

    def apply_pending(self, limit: int | None = None, budget_s: float | None = None) -> int:
        """Apply queued inputs in order, carrying out what each returns; how many were applied (at
        most ``limit``, and no more once a slice of ``budget_s`` is over: see ``loop_turns``)."""
        applied = 0
        turn = Slice(budget_s) if budget_s is not None else None
        while self._inputs and (limit is None or applied < limit):
            if turn is not None and applied and turn.over():
                break
            item = self._inputs.popleft()
            if self._stopping.is_set() and isinstance(item, (Cycle, Tick)):
                continue  # nothing new is planned while stopping
            if isinstance(item, TaskUpdate) and self._acknowledgement_queued(item):
                self.updates_resent_skipped += 1
                if self.resent_skipped_counter is not None:
                    self.resent_skipped_counter.inc()
                continue
            if isinstance(item, OffersReceived):  # before: the unusable ones are declined at once
                self.held_offers.received((offer.id for offer in item.offers), self.clock())
            started = time.perf_counter()
            actions = apply(self.state, item, self.clock())
            if isinstance(item, Cycle) and self.scheduling_pass is not None:
                self.scheduling_pass.observe(time.perf_counter() - started)
            self.execute(actions)
            applied += 1
            if isinstance(item, OffersReceived):
                self._wakeup.set()  # use fresh offers in a cycle right away, not up to a second later
            elif isinstance(item, Subscribed):
                self.etiquette.subscribed()
                self._tell_offers_wanted()
                self._agents_read_not_before = 0.0
                self._poll_now.set()  # learn the agents' totals now, not a poll interval later
            elif isinstance(item, JobsQueued) and item.jobs:
                self._wakeup.set()
            elif isinstance(item, Cycle):
                self._mind_offers()
                if len(self.state.offers) and self.state.launches.room():
                    self._wakeup.set()  # offers kept when the pass's share ran out: the next pass now
            elif isinstance(item, (LaunchAnswered, LaunchRefused, LaunchUnanswered, WriteDone)):
                if len(self.state.offers) and self.state.launches.room():
                    self._wakeup.set()  # room again for the offers kept
            elif isinstance(item, OfferRescinded):
                self.held_offers.returned((item.offer_id,))
            elif isinstance(item, Disconnected):
                self.held_offers.clear()  # Mesos rescinds every offer of a disconnected framework
        return applied

    def _acknowledgement_queued(self, item: TaskUpdate) -> bool:
        """The master sent this update again while our acknowledgement of it waits its turn: it was
        applied already (an update with the same uuid is the same update), and it is acknowledged once."""
        status = item.status
        return bool(status.uuid) and self.calls.waiting(acknowledgement_key(status.task_id, status.uuid, status.state))

    async def _consume(self) -> None:
        while True:
            await self._input_ready.wait()
            self._input_ready.clear()
            try:
                self.apply_pending(INPUTS_PER_TURN, TURN_BUDGET_S)
            except Exception:
                log.exception("Applying an input to the core failed")
            if self._inputs:
                self._input_ready.set()
                await asyncio.sleep(0)  # a burst does not starve the rest of the loop

    # --- carrying out actions ---

    def execute(self, actions: Actions) -> None:
        """Carry out actions: calls that need nothing at once, the rest after their records are written."""
        for record in actions.nodes:
            self._node_rows[record.hostname] = record
        if actions.decline or actions.decline_unneeded or actions.accept:
            self.held_offers.returned(actions.decline)
            self.held_offers.returned(actions.decline_unneeded)
            for launch in actions.accept:
                self.held_offers.returned(launch.offer_ids)
        driver = self.driver
        if driver is None or not actions:
            return
        if actions.decline:
            self.calls.spawn(partial(driver.decline, actions.decline, self._refuse_s()), "DECLINE")
        if actions.decline_unneeded:
            # Not needed for a while (launches wait for room): back spread out over up to a minute
            # (``SurplusReturns`` says why), never sooner than the busy filter.
            shortest_s = max(self._refuse_s(), min(SURPLUS_MIN_S, self.settings.offer_refuse_s))
            longest_s = min(SURPLUS_MAX_S, self.settings.offer_refuse_s)
            offer_ids, start = actions.decline_unneeded, 0
            for refuse_s, count in self.surplus_returns.plan(len(offer_ids), self.clock(), shortest_s, longest_s):
                batch = offer_ids[start : start + count]
                start += count
                self.calls.spawn(partial(driver.decline, batch, round(refuse_s, 3)), "DECLINE")
        for task_id, agent_id in actions.kill:
            self.calls.spawn(partial(driver.kill, task_id, agent_id), f"KILL {task_id}", key=("kill", task_id))
        for tasks in actions.reconcile:
            self.calls.spawn(partial(driver.reconcile, tasks), "RECONCILE")
        for launch in actions.accept:
            # Before the acknowledgements queued: tries wait for this answer (launches in flight).
            self.calls.spawn(partial(self._launch, driver, launch), f"ACCEPT on agent {launch.agent_id}", first=True)
        if actions.launch or actions.acknowledge or actions.records:
            # Only a launch may be given up (its offers will not wait). The end of a try is written,
            # however long that takes, whether or not its update carries an acknowledgement.
            droppable = bool(actions.launch) and all(isinstance(r, ExeLaunched) for r in actions.records)
            # What waits for the write is only what comes after it: the launches, and the
            # acknowledgements as one flat tuple of strings, four each (a tuple of tuples would stay in
            # the collector's sight until a middle collection). Each update's Actions (ten lists) and
            # its status waited too, thousands of them under load, walked by every young collection.
            acknowledgements = tuple(
                part
                for status in actions.acknowledge
                if status.uuid and status.agent_id  # master-generated updates are not acknowledged
                for part in (status.agent_id, status.task_id, status.uuid, str(status.state))
            )
            then = partial(self._written, tuple(actions.launch), acknowledgements)
            self.writer.submit(actions.records, then, droppable=droppable)

    def _refuse_s(self) -> float:
        # With work waiting, declined resources should come back at the next allocation, not later;
        # while idle, not for minutes (a REVIVE brings them back when work arrives).
        refuse_s = self.settings.offer_refuse_s
        if self.state.work_waits:
            return min(BUSY_REFUSE_S, refuse_s)
        if refuse_s > BUSY_REFUSE_S:
            self.etiquette.declined_idle()
        return refuse_s

    # --- offer etiquette: SUPPRESS when nothing waits, REVIVE when work arrives, no offer held long ---

    def _mind_offers(self) -> None:
        """After each cycle: tell the master whether we want offers (one call at a time)."""
        driver = self.driver
        if driver is None or not self.state.subscribed:
            return
        call = self.etiquette.decide(self.state.work_waits, self.clock())
        if call is not None:
            generation = self.etiquette.generation
            self.calls.spawn(partial(self._offer_call, driver, call, generation), call)
        self._tell_offers_wanted()

    def _tell_offers_wanted(self) -> None:
        """The core's no-offer rule (a node silent 5 minutes goes offline) counts only while offers
        are expected: not while suppressed or filtered by us."""
        wanted = self.etiquette.offers_expected
        if wanted != self._offers_wanted:
            self._offers_wanted = wanted
            self.post(OffersWanted(wanted))

    async def _offer_call(self, driver, call: str, generation: int) -> None:
        ok = False
        try:
            await (driver.suppress() if call == SUPPRESS else driver.revive())
            ok = True
        except CallError as exc:
            log.warning("%s failed (%s); asking again later", call, exc)
        finally:
            self.etiquette.finished(call, generation, ok)
            self._tell_offers_wanted()
        if ok:
            log.info("%s sent: %s", call, "nothing waits" if call == SUPPRESS else "work waits")

    def _check_held_offers(self, now: float) -> None:
        """Offers held past the threshold raise a warning (re-raised while they last, then cleared)."""
        limit_s = self.settings.offer_hold_warn_s
        count, longest_s = self.held_offers.held_longer_than(limit_s, now)
        if count or self._offers_held_warned:
            self.post(OffersHeld(count, longest_s if count else 0.0, limit_s))
        self._offers_held_warned = bool(count)

    def _written(self, launches: tuple[Launch, ...], acknowledgements: tuple[str, ...], ok: bool) -> None:
        """The records are written (or given up): launches go back to the core, acknowledgements
        (agent id, task id, uuid and state of each, in a row) out."""
        if launches:
            self.post(WriteDone(launches, ok))
        if not ok or self.driver is None:
            return  # only launch batches are given up; an update not acknowledged is resent
        for at in range(0, len(acknowledgements), 4):
            # The master resends an update until it is acknowledged: one acknowledgement is enough.
            agent_id, task_id, uuid, state = acknowledgements[at : at + 4]
            self.calls.acknowledge(agent_id, task_id, uuid, state)

    async def _acknowledge(self, agent_id: str, task_id: str, uuid: str) -> None:
        """An acknowledgement queued in ``calls``, made by the driver attached when its turn comes."""
        driver = self.driver
        if driver is None:
            raise CallError("ACKNOWLEDGE", 0, "no connection to the master")
        await driver.acknowledge_update(agent_id, task_id, uuid)

    async def _launch(self, driver, launch: Launch) -> None:
        """Make the ACCEPT; whatever happens, the core hears that it is over (it counts launches in
        flight until then)."""
        try:
            await driver.launch(launch.offer_ids, [calls.task_info_of(spec) for spec in launch.tasks], self._refuse_s())
        except BaseException as exc:
            if not isinstance(exc, CallError):
                self.post(LaunchUnanswered(launch))  # cancelled, or a bug: the master may have it
                raise
            self._launch_failed(launch, exc)
        else:
            self.post(LaunchAnswered(launch))

    def _launch_failed(self, launch: Launch, exc: CallError) -> None:
        if exc.status == 0:
            # No answer: the master may or may not have the tasks. Ask it rather than guess.
            log.warning(
                "ACCEPT on agent %s got no answer (%s); reconciling its %d tasks",
                launch.agent_id,
                exc.detail,
                len(launch.tasks),
            )
            self.post(LaunchUnanswered(launch))
        else:
            log.warning("ACCEPT on agent %s refused (%s): its tasks never ran", launch.agent_id, exc)
            self.post(LaunchRefused(launch))

    # --- loops ---

    async def start(self, stop: asyncio.Event | None = None) -> bool:
        """Load what the database knows, then start the loops; False if ``stop`` came first."""
        if not await self.load(stop or self._stopping):
            return False
        self._tasks = [
            asyncio.create_task(self.writer.run(), name="record-writer"),
            asyncio.create_task(self._consume(), name="core"),
            asyncio.create_task(self._every(CYCLE_INTERVAL_S, self.step_cycle, wake=self._wakeup), name="cycle"),
            asyncio.create_task(self._every(self.settings.status_interval_s, self._snapshot), name="snapshot"),
            asyncio.create_task(
                self._every(self.settings.master_poll_interval_s, self._poll_master, wake=self._poll_now), name="agents"
            ),
            asyncio.create_task(self._every(DB_SYNC_INTERVAL_S, self.sync_database), name="db-sync"),
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
        self.apply_pending()  # the master's updates already received: their ends are written below
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
        self.apply_pending()  # launches whose records were written are sent
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

    def step_cycle(self) -> None:
        """The scheduling clock: time advances (at most once a second), then a cycle is planned."""
        now = self.clock()
        if self._last_tick is None or now - self._last_tick >= TICK_INTERVAL_S:
            self._last_tick = now
            self.post(Tick(loop_lag=self.loop_lag.problem() if self.loop_lag is not None else None))
            self._check_held_offers(now)
        reason = self.launch_hold_reason()
        if self.cycles_counter is not None:
            self.cycles_counter.labels(reason or "none").inc()
        self.post(Cycle(launches_held=reason is not None))

    def launch_hold_reason(self) -> str | None:
        """Why new launches must wait now, or None. The first reason that applies is named."""
        # No launch while its framework id or its records cannot be stored: a crash would orphan it.
        driver = self.driver
        if driver is None or not driver.framework_id_saved:
            return "framework_id"
        if self.writer.error is not None:
            return "records_failing"
        if self.writer.records_waiting() > WRITER_BACKLOG_RECORDS:
            return "records_behind"
        if self.calls.oldest_wait_s() > CALLS_WAIT_HOLD_S:
            return "calls_behind"
        return None

    def build_snapshot(self, most: int | None = None) -> StatusSnapshot:
        """The status document and its view, read from the core between two inputs; with ``most``,
        at most that many changed node entries are brought up to date (``StatusBuilder.build``)."""
        now = self.clock()
        started = time.perf_counter()
        body = self.status_builder.build(self.state, now, self._sections(now), most=most)
        view = self.view_builder.build(self.state, now)
        return StatusSnapshot(now, body, time.perf_counter() - started, view=view)

    def _sections(self, now: float) -> dict | None:
        """The sections owned elsewhere, with the writer's failures in ``dependencies.database``."""
        sections = self.sections() if self.sections else None
        probe = (self.probe_results() if self.probe_results else {}).get("database")
        probe_ok_at = probe.taken_at if probe is not None and probe.ok else None
        self.write_health.observe(self.writer.error, getattr(self.writer, "failures", 0), probe_ok_at, now)
        database = (sections or {}).get("dependencies", {}).get("database")
        if database is not None:
            sections = {
                **sections,
                "dependencies": {**sections["dependencies"], "database": self.write_health.section(database)},
            }
        return sections

    async def _snapshot(self) -> None:
        # Slices of its own 20 ms, not cut short by a busy turn (``loop_turns``): at full size the
        # warm-up in the busy turns' 4 ms slices left the status up to 4 s old.
        for _ in self.status_builder.warm(self.state, budget_s=TURN_BUDGET_S, clock=time.perf_counter):
            await asyncio.sleep(0)  # the cold build in slices, other work in between
        # What changed while the slices ran is left to the next round past a slice's worth: the
        # last step stays as short as one slice.
        snapshot = self.build_snapshot(most=self.status_builder.slice_entries)
        if self.status_build is not None:
            self.status_build.observe(snapshot.build_s)
        previous = self.snapshots.current
        # Codings a client read the last snapshot in are made before this one is published, on a
        # thread: no request waits for 10 MB to be compressed, and nobody reading means no work.
        for coding in previous.codings_read() if previous is not None else ():
            await asyncio.to_thread(encodings.encoded, snapshot, coding)
        self.snapshots.publish(snapshot)
        if snapshot.build_s > self.settings.status_interval_s / 2:
            log.warning("Building the status took %.3f s", snapshot.build_s)

    async def _poll_master(self) -> None:
        for item in await self.listings.read(self.driver, self.state.framework_id):
            for part in item.parts(AGENTS_PER_INPUT) if isinstance(item, AgentsListed) else (item,):
                self.post(part)

    # --- the database ---

    async def load(self, stop: asyncio.Event) -> bool:
        """Nodes, job types, queued jobs, running tries and the last three hours' ends (retried)."""
        delay = 1.0
        while not stop.is_set():
            try:
                loaded = await self.store.load(self.clock())
                break
            except Exception as exc:
                error = "timed out" if isinstance(exc, TimeoutError) else describe_database_error(exc, self._secrets)
                log.error("Cannot load the scheduler's state from the database (%s); retrying in %.0f s", error, delay)
                await wait_event(stop, delay)
                delay = min(delay * 2, 30.0)
        else:
            return False
        # Applied before the first event can arrive: an update for a task not loaded yet would look
        # like a stranger's and be killed.
        self.post(loaded)
        self.apply_pending()
        if self.handlers is not None:
            self.handlers.resize(loaded.message_handlers)
        # Reads go on from the highest id loaded. (A transaction open across the start that commits
        # ids below it is not looked for: its jobs wait for the next start. Looking for every id
        # missing below would read the whole queue again.)
        self._job_ids = NewJobIds(
            max([job.job_id for job in loaded.queued] + [t.exe.job_id for t in loaded.running], default=0)
        )
        log.info(
            "Loaded %d nodes, %d job types, %d queued jobs, %d running tries, %d recent ends; scheduler %s",
            len(loaded.nodes),
            len(loaded.job_types),
            len(loaded.queued),
            len(loaded.running),
            len(loaded.finished),
            "paused" if loaded.paused else "ready",
        )
        return True

    async def _save_nodes(self, timeout_s: float | None = None) -> None:
        rows = sorted(self._node_rows.values(), key=lambda r: r.hostname)
        if not rows:
            return
        self._node_rows.clear()
        try:
            stored = await self.store.save_nodes(rows, timeout_s=timeout_s)
        except Exception:
            for row in rows:  # try again next round, unless a newer row came meanwhile
                self._node_rows.setdefault(row.hostname, row)
            raise
        self.post(stored)

    async def sync_database(self) -> None:
        """Write new and changed nodes; read new jobs; every few rounds, flags and job types."""
        await self._save_nodes()
        self._syncs += 1
        if self.handlers is not None:
            self.post(HandlersAlive(self.handlers.alive_count()))
        if self._syncs % JOB_TYPES_EVERY_SYNCS == 0:
            self.post(await self.store.job_types())
        # New jobs: ids above the highest read, and the gaps below it that a transaction still open
        # may fill (ids commit out of order). Never the whole queue again: it is kept in the core.
        queued = await self.store.queued_jobs(self._job_ids.highest, self._job_ids.ranges())
        self._job_ids.read([job.job_id for job in queued.jobs], self.clock())
        # A read holds up to 50,000 jobs (2.5 µs each to queue): handed over in inputs of a bounded
        # size, so the consumer's turns (TURN_BUDGET_S) come between them.
        for start in range(0, len(queued.jobs), JOBS_PER_INPUT):
            self.post(JobsQueued(queued.jobs[start : start + JOBS_PER_INPUT]))
        if self._syncs % FLAGS_EVERY_SYNCS == 0:
            await self.read_flags()

    async def read_flags(self) -> None:
        """The scheduler's and the nodes' pause flags (and handler count) as the database has them now;
        also called right after a change through the API, so it is followed at once."""
        flags = await self.store.flags()
        self.post(flags)
        if self.handlers is not None:
            self.handlers.resize(flags.message_handlers)
        self.post(await self.store.node_flags())

    async def _persist_status(self) -> None:
        snapshot = self.snapshots.current
        if snapshot is not None:
            # Stored gzipped (the bytes a gzip client is sent, made once per snapshot, off the loop): a
            # 9 MB text quoted by the database driver holds the interpreter for tens of milliseconds.
            loop = asyncio.get_running_loop()
            gzipped = await loop.run_in_executor(None, encodings.encoded, snapshot, "gzip")
            await self.store.save_status(gzipped, snapshot.generated_at)
