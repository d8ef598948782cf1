"""One scheduling cycle: every held offer is used or handed back.

First the filter (is the scheduler able to launch at all; which nodes are READY; which job types
could run anywhere), then the pick: system tasks, node tasks, then jobs in queue order, each on the
first agent with room (next fit, see ``OfferPool``). A job left in the queue gets one
``PendingReason``, counted per job type in ``state.pending``.

A pass costs what it places and the job types waiting, not the queue's length: the queue is merged
from its types' heads (``JobQueue.heads``), a type with no room is passed over whole, and the pass
ends when the room under ``MAX_LAUNCHES_IN_FLIGHT`` (``state.launches``) or the offers run out.
"""

from __future__ import annotations

import logging

from scheduler.core.actions import Actions, Launch
from scheduler.core.clock import reset_nodes
from scheduler.core.launches import KEEP_OFFERS_S
from scheduler.core.records import ExeLaunched
from scheduler.core.state import CoreState, job_task_id
from scheduler.core.warnings import UNKNOWN_JOB_TYPE, WAITING_SYSTEM_TASKS
from scheduler.jobs.definitions import JobType
from scheduler.jobs.executions import RunningExe
from scheduler.jobs.queue import QueuedJob
from scheduler.nodes import states
from scheduler.nodes.node import Node
from scheduler.offers.book import HeldOffer
from scheduler.offers.offer import Offer
from scheduler.resources.accounting import to_cents
from scheduler.scheduling import pending
from scheduler.scheduling.pending import PendingCounts, PendingReason
from scheduler.scheduling.planner import AgentCapacity, OfferPool, TaskDemand, capacity_of, needs_gpus
from scheduler.scheduling.system_tasks import DB_UPDATE, MESSAGE_HANDLER
from scheduler.tasks.registry import Task, TaskKind

log = logging.getLogger(__name__)

PASS_AGENTS_MIN = 200  # agents whose offers a pass looks at, at the least
STAGING_STALE_S = 60.0  # a task still STAGING this long after its launch is asked about


def plan_cycle(state: CoreState, now: float, *, launches_held: bool = False) -> Actions:
    state.hold_launches = launches_held
    if not state.subscribed:
        state.pending = _all_waiting(state, PendingReason.NOT_SUBSCRIBED)
        return Actions()
    actions = Actions()
    reset_nodes(state)
    state.work_waits = _work_waits(state, now)
    actions.kill += [(task_id, _agent_of(state, task_id)) for task_id in state.messaging.surplus(now)]
    actions.extend(_kill_timed_out(state, now))
    stale = [(t.task_id, t.agent_id) for t in state.tasks.staging_since(now - STAGING_STALE_S)]
    actions.reconcile += state.reconciler.due(now, stale)
    room = state.launches.room()
    if room == 0 and len(state.offers) and not (state.paused or launches_held):
        # As many launches as allowed wait for the master: the offers wait a little for room, left in
        # the book (a look at each, not a take and a re-add); those kept long go back.
        actions.decline_unneeded += [offer.id for offer in state.offers.keep_all(now, KEEP_OFFERS_S)]
        state.pending = _each_waiting(state, PendingReason.LAUNCHES_IN_FLIGHT)
        return actions
    if state.paused or not len(state.offers) or launches_held:
        held = state.offers.take_all()
        # Paused, or the runtime cannot write what a launch needs first: hand everything back.
        actions.decline += [offer.id for offer in held]
        if state.paused:
            state.pending = _all_waiting(state, PendingReason.SCHEDULER_PAUSED)
        elif launches_held:
            state.pending = _all_waiting(state, PendingReason.LAUNCHES_HELD)
        else:
            state.pending = _each_waiting(state, PendingReason.NO_OFFERS)
        return actions
    # The offers of as many agents as the pass may place tasks (the longest held first; the others
    # wait in the book for the next pass): at 10,000 agents a pass that looked at every offer cost
    # hundreds of milliseconds for the few agents it used.
    taken = state.offers.take_agents(max(room, PASS_AGENTS_MIN))
    held = [entry.offer for entry in taken]
    try:
        pool = _pool(state, held, actions)
        waiting_system, room = _place_system_tasks(state, pool, now, room)
        room = _place_node_tasks(state, pool, now, room)
        if waiting_system:
            state.warnings.raise_warning(
                WAITING_SYSTEM_TASKS.name, WAITING_SYSTEM_TASKS, WAITING_SYSTEM_TASKS.description, now
            )
            unplaced = _all_waiting(state, PendingReason.WAITING_SYSTEM_TASKS)
        else:
            # Scale lets this age out over an hour; here it goes as soon as nothing waits.
            state.warnings.clear(WAITING_SYSTEM_TASKS.name)
            records, unplaced = _place_jobs(state, pool, now, room)
            actions.records += records
    except Exception:
        # A bug in placement must not swallow offers: nothing of this cycle is launched.
        log.exception("Scheduling cycle failed; declining its offers")
        actions.decline += [offer.id for offer in held]
        return actions
    state.pending = unplaced
    for capacity in pool.used():
        actions.launch.append(Launch(capacity.agent_id, [o.id for o in capacity.offers], capacity.tasks))
    unused = [o for capacity in pool.unused() for o in capacity.offers]
    if any(PendingReason.LAUNCHES_IN_FLIGHT in by_reason for by_reason in unplaced.values()):
        # The room ran out, not the work: the next pass uses them.
        actions.decline_unneeded += _keep(state, taken, unused, now)
    else:
        actions.decline += [o.id for o in unused]
    state.launches.placed(spec.task_id for launch in actions.launch for spec in launch.tasks)
    state.metrics.count("tasks_launched_per_sec", sum(len(launch.tasks) for launch in actions.launch), now)
    state.metrics.count("offers_launched_per_sec", sum(len(launch.offer_ids) for launch in actions.launch), now)
    return actions


# --- the filter ---


def _keep(state: CoreState, taken: list[HeldOffer], unused: list[Offer], now: float) -> list[str]:
    """Put the unused offers back in the book for the next pass, but not when kept ``KEEP_OFFERS_S``
    already: the ids to decline."""
    unused_ids = {offer.id for offer in unused}
    expired = state.offers.keep((entry for entry in taken if entry.offer.id in unused_ids), now, KEEP_OFFERS_S)
    return [offer.id for offer in expired]


def _all_waiting(state: CoreState, reason: PendingReason) -> PendingCounts:
    return {job_type_id: {reason: count} for job_type_id, count in state.queue.counts().items()}


def job_filter(state: CoreState, job: QueuedJob, failing: set[int]) -> PendingReason | None:
    """Why this job cannot run on any offer at all, or None if an offer with room would do.

    ``failing``: the job types no node of the cluster can run (``ResourceCheck.failing()``).
    """
    return type_filter(state, job.job_type_id, failing)


def type_filter(state: CoreState, job_type_id: int, failing: set[int]) -> PendingReason | None:
    """``job_filter`` for every job of a type (it depends on the type alone)."""
    if job_type_id not in state.job_types:
        return PendingReason.UNKNOWN_JOB_TYPE
    if job_type_id in failing:
        return PendingReason.NO_NODE_FITS
    return None


def _each_waiting(state: CoreState, otherwise: PendingReason) -> PendingCounts:
    counts: PendingCounts = {}
    failing = state.resource_check.failing()
    for job_type_id, count in state.queue.counts().items():
        pending.add(counts, job_type_id, type_filter(state, job_type_id, failing) or otherwise, count)
    return counts


def _is_ready(node: Node, paused: bool) -> bool:
    return node.state(paused) is states.READY


def _pool(state: CoreState, held: list[Offer], actions: Actions) -> OfferPool:
    by_agent: dict[str, list[Offer]] = {}
    for offer in held:
        by_agent.setdefault(offer.agent_id, []).append(offer)
    capacities = []
    for agent_id, offers in by_agent.items():
        node = state.nodes.for_agent(agent_id)
        if node is None or node.id is None:
            actions.decline += [offer.id for offer in offers]  # a node without its row yet waits a second
            continue
        capacities.append(capacity_of(agent_id, node, offers, state.offers.accepted_role))
    return OfferPool(capacities)


def _no_id(kind: str) -> str:
    return ""  # asking what is due names no task


def _work_waits(state: CoreState, now: float) -> bool:
    """Whether an offer could be used now: a queued job that could run somewhere, a system task
    missing or a node task due. While not, the engine suppresses offers (``OfferEtiquette``); a
    paused scheduler launches nothing, so nothing waits."""
    if state.paused:
        return False
    failing = state.resource_check.failing()
    if any(type_filter(state, job_type_id, failing) is None for job_type_id in state.queue.job_type_ids()):
        return True
    if state.messaging.demands(_no_id) or state.db_update.demand(now, _no_id) is not None:
        return True
    node_tasks = state.node_tasks
    return any(
        node.online
        and not node_tasks.surely_idle(node, now)
        and node_tasks.demands(node, node.state(state.paused), now, _no_id)
        for node in state.nodes
    )


def _agent_of(state: CoreState, task_id: str) -> str | None:
    task = state.tasks.get(task_id)
    return task.agent_id if task else None


def _kill_timed_out(state: CoreState, now: float) -> Actions:
    actions = Actions()
    for task_id in state.node_tasks.timed_out(now):
        task = state.tasks.get(task_id)
        node = state.nodes.get(task.data.get("hostname", "")) if task else None
        if task is None or node is None:
            continue
        state.node_tasks.on_timeout(node, task.type, task_id, now)
        actions.kill.append((task_id, task.agent_id))
    return actions


# --- the pick ---


def _register(
    state: CoreState, capacity: AgentCapacity, demand: TaskDemand, kind: TaskKind, task_type: str, now: float, **data
) -> Task:
    capacity.take(demand)
    task = Task(demand.task_id, capacity.agent_id, kind, task_type, to_cents(demand.resources), now, data=data)
    state.tasks.add(task)
    return task


def _place_system_tasks(state: CoreState, pool: OfferPool, now: float, room: int) -> tuple[bool, int]:
    """Place the database update and missing message handlers (within ``room`` launches); whether
    one found no agent with room, and the room left."""
    waiting = False
    demands = state.messaging.demands(state.new_task_id)
    update = state.db_update.demand(now, state.new_task_id)
    if update is not None:
        demands.insert(0, update)
    for demand in demands:
        if room <= 0:
            break  # launches in flight: the next pass places it
        capacity = pool.first_fit(demand.resources, lambda node: _is_ready(node, state.paused))
        if capacity is None:
            waiting = True
            continue
        task_type = DB_UPDATE if demand is update else MESSAGE_HANDLER
        _register(state, capacity, demand, TaskKind.SYSTEM, task_type, now)
        if demand is update:
            state.db_update.launched(demand.task_id)
        else:
            state.messaging.launched(demand.task_id)
        room -= 1
    return waiting, room


def _place_node_tasks(state: CoreState, pool: OfferPool, now: float, room: int) -> int:
    """Node tasks due on the agents offered, within ``room`` launches; the room left."""
    for capacity in pool.capacities:
        node = capacity.node
        for task_type, demand in state.node_tasks.demands(node, node.state(state.paused), now, state.new_task_id):
            if room <= 0:
                return room
            if capacity.fits(demand.resources):
                _register(state, capacity, demand, TaskKind.NODE, task_type, now, hostname=node.hostname)
                state.node_tasks.launched(node, task_type, demand.task_id, now)
                room -= 1
    return room


def _no_room(state: CoreState, pool: OfferPool, needs: dict[str, float]) -> PendingReason:
    """Why no READY agent had room: one of a paused node had, or none had."""

    def paused_node(node: Node) -> bool:
        return node.is_paused and node.online and node.is_active

    return PendingReason.NODE_PAUSED if pool.any_fits(needs, paused_node) else PendingReason.NO_OFFERS


def _place_jobs(state: CoreState, pool: OfferPool, now: float, room: int) -> tuple[list[ExeLaunched], PendingCounts]:
    """Jobs in queue order, at most ``room`` of them; those that need GPUs first, since only GPU
    agents can take them, while the rest can go anywhere: they go to GPU agents only if no other
    agent has room and no GPU job is left waiting (non-GPU work must not take the only GPU agents
    from it). One look per job placed and per job type: a type that finds no room is passed over
    with all its jobs (capacity only shrinks in a pass)."""
    records: list[ExeLaunched] = []
    unplaced: PendingCounts = {}
    unknown: set[int] = set()
    failing = state.resource_check.failing()
    gpu_types: list[int] = []
    other_types: list[int] = []
    for job_type_id, count in state.queue.counts().items():
        reason = type_filter(state, job_type_id, failing)
        if reason is None:
            needs = state.job_types[job_type_id].resources
            (gpu_types if needs_gpus(needs) else other_types).append(job_type_id)
            continue
        if reason is PendingReason.UNKNOWN_JOB_TYPE:
            unknown.add(job_type_id)
        pending.add(unplaced, job_type_id, reason, count)
    ready = lambda node: _is_ready(node, state.paused)  # noqa: E731

    def place(job_type_ids: list[int], gpu_agents: bool) -> bool:
        """Place jobs of these types in order; True if one was left waiting."""
        left = False
        heads = state.queue.heads(job_type_ids)
        while len(records) < room:
            job = heads.next()
            if job is None:
                break
            job_type = state.job_types[job.job_type_id]
            capacity = pool.first_fit(job_type.resources, ready, gpu_agents=gpu_agents)
            record = _launch_job(state, capacity, job, job_type, now) if capacity is not None else None
            if record is None:
                reason = _no_room(state, pool, job_type.resources) if capacity is None else PendingReason.NO_OFFERS
                pending.add(unplaced, job.job_type_id, reason, state.queue.count(job.job_type_id))
                heads.drop(job.job_type_id)
                left = True
                continue
            records.append(record)
        for job_type_id in heads.job_type_ids():  # the room ran out before them: they keep their place
            pending.add(unplaced, job_type_id, PendingReason.LAUNCHES_IN_FLIGHT, state.queue.count(job_type_id))
            left = True
        return left

    gpu_waiting = place(gpu_types, gpu_agents=True)
    place(other_types, gpu_agents=not gpu_waiting)
    if not unknown:
        state.warnings.clear(UNKNOWN_JOB_TYPE.name)  # Scale lets it age out over an hour
    for job_type_id in unknown:
        state.warnings.raise_warning(
            UNKNOWN_JOB_TYPE.name, UNKNOWN_JOB_TYPE, UNKNOWN_JOB_TYPE.description % job_type_id, now
        )
    state.metrics.count("jobs_launched_per_sec", len(records), now)
    return records, unplaced


def _launch_job(
    state: CoreState, capacity: AgentCapacity, job: QueuedJob, job_type: JobType, now: float
) -> ExeLaunched | None:
    exe_num = max(job.num_exes, state.latest_try.get(job.job_id, 0)) + 1
    task_id = job_task_id(job.job_id, exe_num)
    if task_id in state.tasks:  # cannot happen by construction; never launch a try twice
        log.error("Try %s is already running; not launching it again", task_id)
        return None
    demand = TaskDemand(
        task_id,
        f"{job_type.name} {job_type.version} job {job.job_id}",
        job_type.resources,
        job_type.command,
        job_type.image,
        labels={"scale.job_id": str(job.job_id), "scale.job_type": f"{job_type.name}:{job_type.version}"},
    )
    _register(state, capacity, demand, TaskKind.JOB, job_type.name, now, priority=job.priority, queued_at=job.queued_at)
    state.queue.remove(job.job_id)
    state.latest_try[job.job_id] = exe_num
    node = capacity.node
    state.exes[task_id] = RunningExe(job.job_id, exe_num, job_type.id, task_id, node.id, capacity.agent_id, now)
    state.exe_metrics.started(node.id, job_type.id)
    return ExeLaunched(job.job_id, exe_num, job_type.id, task_id, node.id, now)
