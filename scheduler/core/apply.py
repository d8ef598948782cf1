"""``apply``: the one way into the core. One input and the current time in, ``Actions`` out.

The engine calls it for every input, in the order they were posted, from one consumer on its
loop; the status build only reads the state between two calls.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from scheduler.core import task_updates
from scheduler.core.actions import Actions
from scheduler.core.clock import advance
from scheduler.core.cycle import plan_cycle
from scheduler.core.events import (
    Disconnected,
    Failure,
    Heartbeat,
    MasterError,
    OfferRescinded,
    OffersReceived,
    Subscribed,
    TaskUpdate,
)
from scheduler.core.inputs import (
    AgentsListed,
    Cycle,
    FlagsRead,
    HandlersAlive,
    Input,
    JobsQueued,
    JobTypesRead,
    LaunchAnswered,
    LaunchRefused,
    LaunchUnanswered,
    LoadedTry,
    MasterProblems,
    NodeFlagsRead,
    NodeIdsStored,
    OffersHeld,
    OffersWanted,
    StateLoaded,
    Tick,
    WriteDone,
)
from scheduler.core.records import NodeRecord
from scheduler.core.state import CoreState
from scheduler.core.warnings import (
    EVENT_LOOP_LAG,
    GHOST_FRAMEWORK,
    MASTER_AGENTS_UNREAD,
    MASTER_DETECTION,
    MASTER_FRAMEWORKS_UNREAD,
    OFFERS_HELD,
    ghosts_description,
    master_words,
    update_contact_warning,
)
from scheduler.jobs.definitions import JobType
from scheduler.jobs.queue import QueuedJob
from scheduler.resources.accounting import to_cents
from scheduler.tasks.registry import Task, TaskKind

log = logging.getLogger(__name__)


def apply(state: CoreState, item: Input, now: float) -> Actions:
    handler = _HANDLERS.get(type(item))
    actions = handler(state, item, now) if handler is not None else Actions()
    state.watch.killing(actions.kill, now)  # every kill is sent again until its task is over
    # Node rows out of date (new nodes, new agent ids, retirements) go to the database in the background.
    actions.nodes += [
        NodeRecord(n.hostname, n.agent_id, n.is_active, n.is_paused, n.id)
        for n in sorted(state.nodes.take_dirty(), key=lambda n: n.hostname)
    ]
    return actions


# --- the master's events ---


def _offers(state: CoreState, event: OffersReceived, now: float) -> Actions:
    actions = Actions(decline=list(event.unusable_offer_ids))
    if not state.paused:  # as Scale counts: offers declined because the scheduler is paused are not
        state.metrics.count("new_offers_per_sec", len(event.offers), now)
    for offer in event.offers:
        state.nodes.saw_offer(offer.agent_id, offer.hostname, now)
    if state.paused:
        # A paused scheduler holds nothing (Scale issue #1516: hoarding starves the cluster).
        actions.decline += [offer.id for offer in event.offers]
    else:
        actions.decline += [offer.id for offer in state.offers.add(event.offers, now)]
    # Feed the watermark of agents the master has not described yet, while their offers are in hand.
    for agent_id in {offer.agent_id for offer in event.offers}:
        node = state.nodes.for_agent(agent_id)
        if node is not None and node.resources.total is None:
            node.resources.observe(
                state.tasks.running_by_agent.get(agent_id, {}), state.offers.offered_cents(agent_id), now
            )
    return actions


def _update(state: CoreState, event: TaskUpdate, now: float) -> Actions:
    return task_updates.on_update(state, event.status, now)


def _rescinded(state: CoreState, event: OfferRescinded, now: float) -> Actions:
    state.offers.rescind(event.offer_id)
    return Actions()


def _subscribed(state: CoreState, event: Subscribed, now: float) -> Actions:
    state.framework_id, state.subscribed = event.framework_id, True
    state.master.subscribed(event.heartbeat_interval_s, now)
    update_contact_warning(state.warnings, state.master, now)
    # Every task we believe in is checked with the master, and the master tells us of the rest.
    return Actions(reconcile=state.reconciler.start([(t.task_id, t.agent_id) for t in state.tasks], now))


def _disconnected(state: CoreState, event: Disconnected, now: float) -> Actions:
    state.subscribed = False
    state.master.disconnected(event.reason, now)
    update_contact_warning(state.warnings, state.master, now)
    dropped = state.offers.clear()  # Mesos rescinds every offer of a disconnected framework
    if dropped:
        log.info("Dropped %d held offers: %s", dropped, event.reason)
    return Actions()


def _heartbeat(state: CoreState, event: Heartbeat, now: float) -> Actions:
    state.master.heard(now)
    update_contact_warning(state.warnings, state.master, now)
    return Actions()


def _failure(state: CoreState, event: Failure, now: float) -> Actions:
    if event.agent_removed:
        state.nodes.agent_removed(event.agent_id, now)
    else:
        log.info("Executor %s on agent %s ended (%s)", event.executor_id, event.agent_id, event.exit_status)
    return Actions()


def _master_error(state: CoreState, event: MasterError, now: float) -> Actions:
    log.error("Mesos master error: %s", event.message)
    return Actions()


def _agents_listed(state: CoreState, item: AgentsListed, now: float) -> Actions:
    state.nodes.apply_master(item.reports, now, first=item.first, last=item.last)
    for report in item.reports:
        node = state.nodes.for_agent(report.agent_id)
        if node is None:
            continue
        node.resources.update_from_master(
            to_cents(report.total), to_cents(report.used), state.tasks.running_by_agent.get(report.agent_id, {})
        )
    if item.last:
        state.master_agents_at = now
    return Actions()


def _master_problems(state: CoreState, item: MasterProblems, now: float) -> Actions:
    if item.ghosts is not None:
        state.warnings.set(GHOST_FRAMEWORK, ghosts_description(item.ghosts) if item.ghosts else None, now)
    detection = MASTER_DETECTION.description % item.detection if item.detection else None
    state.warnings.set(MASTER_DETECTION, detection, now)
    for kind, error in ((MASTER_AGENTS_UNREAD, item.agents_error), (MASTER_FRAMEWORKS_UNREAD, item.frameworks_error)):
        state.warnings.set(kind, kind.description % master_words(error) if error else None, now)
    return Actions()


def _offers_held(state: CoreState, item: OffersHeld, now: float) -> Actions:
    held = OFFERS_HELD.description % (item.count, item.limit_s, item.longest_s) if item.count else None
    state.warnings.set(OFFERS_HELD, held, now)
    return Actions()


def _offers_wanted(state: CoreState, item: OffersWanted, now: float) -> Actions:
    state.nodes.offers_expected(item.wanted, now)
    return Actions()


# --- the database ---


def _set_job_types(state: CoreState, job_types: Iterable[JobType]) -> None:
    state.job_types = {jt.id: jt for jt in job_types if jt.id is not None}


def add_queued_jobs(state: CoreState, jobs: Iterable[QueuedJob]) -> int:
    """Jobs the database lists as queued; those known to be running or ended are ignored (the
    database may lag behind the records still being written)."""
    busy = {exe.job_id for exe in state.exes.values()}
    return state.queue.add_many(job for job in jobs if job.job_id not in busy and job.job_id not in state.ended_jobs)


def _adopt(state: CoreState, loaded: LoadedTry, now: float) -> None:
    exe = loaded.exe
    job_type = state.job_types.get(exe.job_type_id)
    resources = to_cents(job_type.resources) if job_type else {}
    task = Task(
        exe.task_id,
        exe.agent_id,
        TaskKind.JOB,
        job_type.name if job_type else "unknown",
        resources,
        exe.started,
        data={"priority": loaded.priority, "queued_at": loaded.queued_at},
    )
    state.tasks.add(task)
    state.exes[exe.task_id] = exe
    state.latest_try[exe.job_id] = max(exe.exe_num, state.latest_try.get(exe.job_id, 0))
    state.exe_metrics.started(exe.node_id, exe.job_type_id)


def _loaded(state: CoreState, item: StateLoaded, now: float) -> Actions:
    for row in item.nodes:
        state.nodes.load(row.node_id, row.hostname, row.is_active, row.is_paused, now)
    _flags(state, FlagsRead(item.paused, item.message_handlers), now)
    _set_job_types(state, item.job_types)
    for loaded in item.running:
        _adopt(state, loaded, now)
    for end in item.finished:
        state.exe_metrics.finished(end.node_id, end.job_type_id, end.status, end.category, end.ended, now)
    add_queued_jobs(state, item.queued)
    return Actions()


def _jobs_queued(state: CoreState, item: JobsQueued, now: float) -> Actions:
    add_queued_jobs(state, item.jobs)
    return Actions()


def _job_types(state: CoreState, item: JobTypesRead, now: float) -> Actions:
    _set_job_types(state, item.job_types)
    return Actions()


def _flags(state: CoreState, item: FlagsRead, now: float) -> Actions:
    if item.paused != state.paused:
        log.warning("Scheduler %s", "paused" if item.paused else "resumed")
        state.paused = item.paused
    state.messaging.desired_count = item.message_handlers
    return Actions()


def _handlers_alive(state: CoreState, item: HandlersAlive, now: float) -> Actions:
    state.messaging.in_process_count = item.count
    return Actions()


def _node_flags(state: CoreState, item: NodeFlagsRead, now: float) -> Actions:
    for node in state.nodes:
        paused = item.paused.get(node.hostname, node.is_paused)
        if paused != node.is_paused:
            log.warning("Node %s %s", node.hostname, "paused" if paused else "resumed")
            node.is_paused = paused
    return Actions()


def _node_ids(state: CoreState, item: NodeIdsStored, now: float) -> Actions:
    for hostname, node_id in item.ids.items():
        node = state.nodes.get(hostname)
        if node is not None:
            node.id = node_id
    return Actions()


# --- the writer, and calls that failed ---


def _write_done(state: CoreState, item: WriteDone, now: float) -> Actions:
    """The launches' records are written (ACCEPT now) or given up (their offers go back)."""
    actions = Actions()
    for launch in item.launches:
        node = state.nodes.for_agent(launch.agent_id)
        if not item.ok or state.paused or (node is not None and node.is_paused):
            state.launches.answered(spec.task_id for spec in launch.tasks)  # never sent
        if not item.ok:
            log.warning(
                "Not launching %d tasks on agent %s: their records could not be written",
                len(launch.tasks),
                launch.agent_id,
            )
            actions.extend(task_updates.launch_not_made(state, launch, now, written=False))
            actions.decline += launch.offer_ids
        elif state.paused or (node is not None and node.is_paused):
            # Paused while the records were being written: the launch is withdrawn, not sent.
            log.warning("Not launching %d tasks on agent %s: paused", len(launch.tasks), launch.agent_id)
            actions.extend(task_updates.launch_not_made(state, launch, now, written=True, withdrawn=True))
            actions.decline += launch.offer_ids
        else:
            actions.accept.append(launch)
    return actions


def _launch_answered(state: CoreState, item: LaunchAnswered, now: float) -> Actions:
    state.launches.answered(spec.task_id for spec in item.launch.tasks)
    return Actions()


def _launch_refused(state: CoreState, item: LaunchRefused, now: float) -> Actions:
    state.launches.answered(spec.task_id for spec in item.launch.tasks)
    return task_updates.launch_not_made(state, item.launch, now, written=True)


def _launch_unanswered(state: CoreState, item: LaunchUnanswered, now: float) -> Actions:
    """Asked about, and its offers declined: if the master never took the ACCEPT they are still
    ours, and would stay out of every other offer until they are given back (an offer already used
    is ignored by the master)."""
    state.launches.answered(spec.task_id for spec in item.launch.tasks)
    actions = task_updates.reconcile_launch(state, item.launch, now)
    actions.decline += item.launch.offer_ids
    return actions


# --- the clock ---


def _tick(state: CoreState, item: Tick, now: float) -> Actions:
    if item.loop_lag is None:
        state.warnings.clear(EVENT_LOOP_LAG.name)
    else:
        state.warnings.raise_warning(EVENT_LOOP_LAG.name, EVENT_LOOP_LAG, item.loop_lag, now)
    state.master.check(now)  # heartbeats overdue: contact lost, before the driver gives up the stream
    update_contact_warning(state.warnings, state.master, now)
    advance(state, now)
    return task_updates.on_time(state, now)


def _cycle(state: CoreState, item: Cycle, now: float) -> Actions:
    return plan_cycle(state, now, launches_held=item.launches_held)


_HANDLERS: dict[type, Callable[[CoreState, Any, float], Actions]] = {
    OffersReceived: _offers,
    TaskUpdate: _update,
    OfferRescinded: _rescinded,
    Subscribed: _subscribed,
    Disconnected: _disconnected,
    Heartbeat: _heartbeat,
    Failure: _failure,
    MasterError: _master_error,
    AgentsListed: _agents_listed,
    MasterProblems: _master_problems,
    OffersHeld: _offers_held,
    OffersWanted: _offers_wanted,
    StateLoaded: _loaded,
    JobsQueued: _jobs_queued,
    JobTypesRead: _job_types,
    FlagsRead: _flags,
    HandlersAlive: _handlers_alive,
    NodeFlagsRead: _node_flags,
    NodeIdsStored: _node_ids,
    WriteDone: _write_done,
    LaunchAnswered: _launch_answered,
    LaunchRefused: _launch_refused,
    LaunchUnanswered: _launch_unanswered,
    Tick: _tick,
    Cycle: _cycle,
}
