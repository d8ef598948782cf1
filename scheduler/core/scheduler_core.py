"""The scheduler core: offers, nodes, tasks, jobs, metrics and warnings, changed only through its
methods.

Every method is synchronous, takes the current time, and returns what to do as ``Actions``: the
records to write first, then the calls to make. The runtime carries them out. This is the state the
status snapshot is built from.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable

from scheduler.core.actions import Actions, Launch
from scheduler.core.events import (
    Disconnected,
    Event,
    Failure,
    MasterError,
    OfferRescinded,
    OffersReceived,
    Subscribed,
    TaskUpdate,
)
from scheduler.core.reconciler import Reconciler
from scheduler.core.records import ExeEnded, ExeLaunched
from scheduler.core.warnings import UNKNOWN_JOB_TYPE, WAITING_SYSTEM_TASKS, SchedulerWarnings
from scheduler.jobs.definitions import ExeStatus, JobStatus, JobType
from scheduler.jobs.exe_metrics import JobExeMetrics
from scheduler.jobs.executions import Outcome, RunningExe, outcome_of, system_failure
from scheduler.jobs.queue import JobQueue, QueuedJob
from scheduler.jobs.resource_check import ResourceCheck
from scheduler.metrics.scheduler_metrics import SchedulerMetrics
from scheduler.nodes import states
from scheduler.nodes.agent_report import AgentReport
from scheduler.nodes.node import Node
from scheduler.nodes.registry import NodeRegistry
from scheduler.offers.book import OfferBook
from scheduler.resources.accounting import to_cents
from scheduler.scheduling.node_tasks import NodeTaskManager
from scheduler.scheduling.planner import AgentCapacity, OfferPool, TaskDemand, capacity_of
from scheduler.scheduling.system_tasks import DB_UPDATE, MESSAGE_HANDLER, DatabaseUpdate, MessagingService, TaskTemplate
from scheduler.tasks.registry import Task, TaskKind, TaskRegistry
from scheduler.tasks.status import TaskState, TaskStatus

log = logging.getLogger(__name__)

# Scale counts these as finished tasks; LOST and the other terminal states are not counted.
FINISHED_TASK_STATES = frozenset({TaskState.FINISHED, TaskState.FAILED, TaskState.KILLED})
# Not final in Mesos, but final for a try of ours: the task is killed so it cannot come back.
KILL_ON = frozenset({TaskState.UNREACHABLE, TaskState.UNKNOWN})
_JOB_STATUS = {
    ExeStatus.COMPLETED: JobStatus.COMPLETED,
    ExeStatus.FAILED: JobStatus.FAILED,
    ExeStatus.CANCELED: JobStatus.CANCELED,
}


def job_task_id(job_id: int, exe_num: int) -> str:
    """Deterministic, so a try's task id is known before launch and after a restart."""
    return f"scale-job-{job_id}-{exe_num}"


class TaskIds:
    """Ids for node and system tasks: unique across restarts through a start token (the start time,
    passed in: the core never reads the wall clock)."""

    def __init__(self, now: float) -> None:
        self._token = format(int(now * 1000), "x")
        self._numbers = itertools.count(1)

    def __call__(self, kind: str) -> str:
        return f"scale-{kind}-{self._token}-{next(self._numbers)}"


class SchedulerCore:
    def __init__(
        self,
        *,
        hostname: str,
        now: float,
        accepted_role: str = "*",
        metrics_window_s: int = 10,
        node_retire_after_s: float = 3600.0,
        task_template: TaskTemplate | None = None,
        message_handlers_in_process: bool = False,
        logging_health_address: str | None = None,
    ) -> None:
        self.hostname = hostname
        self.offers = OfferBook(accepted_role)
        self.nodes = NodeRegistry(retire_after_s=node_retire_after_s)
        self.tasks = TaskRegistry()
        self.metrics = SchedulerMetrics(metrics_window_s, now)
        self.warnings = SchedulerWarnings()
        self.job_types: dict[int, JobType] = {}
        self.queue = JobQueue()
        self.exes: dict[str, RunningExe] = {}  # task id -> the running try
        self._ended_jobs: dict[int, float] = {}  # job id -> when it ended; a stale read must not requeue it
        self.exe_metrics = JobExeMetrics()
        self.node_tasks = NodeTaskManager(logging_health_address=logging_health_address)
        template = task_template or TaskTemplate()
        self.messaging = MessagingService(template, in_process=message_handlers_in_process)
        self.db_update = DatabaseUpdate(template)
        self.reconciler = Reconciler()
        self.resource_check = ResourceCheck()
        self.new_task_id = TaskIds(now)
        self.framework_id: str | None = None
        self.subscribed = False
        self.paused = False
        self.master_agents_at: float | None = None  # when the master last listed its agents to us
        self.work_waits = True  # set each cycle: whether declined offers should come back soon
        # Set by the runtime while a launch cannot be made safe (framework id or records unwritten).
        self.hold_launches = False
        self._latest_try: dict[int, int] = {}  # job id -> its newest try launched (or adopted)

    # --- what the database holds (at start, and as it changes) ---

    def set_job_types(self, job_types: Iterable[JobType]) -> None:
        self.job_types = {jt.id: jt for jt in job_types if jt.id is not None}

    def add_queued_jobs(self, jobs: Iterable[QueuedJob]) -> int:
        """Jobs the database lists as queued; those known to be running or ended are ignored (the
        database may lag behind the records still being written)."""
        busy = {exe.job_id for exe in self.exes.values()}
        return self.queue.add_many(job for job in jobs if job.job_id not in busy and job.job_id not in self._ended_jobs)

    def adopt_running_exe(self, exe: RunningExe, priority: int, queued_at: float, now: float) -> None:
        """A try the database says is running (after a restart): tracked, and reconciled once subscribed."""
        job_type = self.job_types.get(exe.job_type_id)
        resources = to_cents(job_type.resources) if job_type else {}
        task = Task(
            exe.task_id,
            exe.agent_id,
            TaskKind.JOB,
            job_type.name if job_type else "unknown",
            resources,
            exe.started,
            data={"priority": priority, "queued_at": queued_at},
        )
        self.tasks.add(task)
        self.exes[exe.task_id] = exe
        self._latest_try[exe.job_id] = max(exe.exe_num, self._latest_try.get(exe.job_id, 0))
        self.exe_metrics.started(exe.node_id, exe.job_type_id)

    # --- events from the master ---

    def on_event(self, event: Event, now: float) -> Actions:
        if isinstance(event, OffersReceived):
            return self._on_offers(event, now)
        if isinstance(event, TaskUpdate):
            return self.on_update(event.status, now)
        if isinstance(event, OfferRescinded):
            self.offers.rescind(event.offer_id)
        elif isinstance(event, Subscribed):
            self.framework_id, self.subscribed = event.framework_id, True
            # Every task we believe in is checked with the master, and the master tells us of the rest.
            return Actions(reconcile=self.reconciler.start([(t.task_id, t.agent_id) for t in self.tasks], now))
        elif isinstance(event, Disconnected):
            self.subscribed = False
            dropped = self.offers.clear()  # Mesos rescinds every offer of a disconnected framework
            if dropped:
                log.info("Dropped %d held offers: %s", dropped, event.reason)
        elif isinstance(event, Failure):
            if event.agent_removed:
                self.nodes.agent_removed(event.agent_id, now)
            else:
                log.info("Executor %s on agent %s ended (%s)", event.executor_id, event.agent_id, event.exit_status)
        elif isinstance(event, MasterError):
            log.error("Mesos master error: %s", event.message)
        return Actions()

    def _on_offers(self, event: OffersReceived, now: float) -> Actions:
        actions = Actions(decline=list(event.unusable_offer_ids))
        if not self.paused:  # as Scale counts: offers declined because the scheduler is paused are not
            self.metrics.count("new_offers_per_sec", len(event.offers), now)
        for offer in event.offers:
            self.nodes.saw_offer(offer.agent_id, offer.hostname, now)
        if self.paused:
            # A paused scheduler holds nothing (Scale issue #1516: hoarding starves the cluster).
            actions.decline += [offer.id for offer in event.offers]
        else:
            actions.decline += [offer.id for offer in self.offers.add(event.offers, now)]
        self._observe_offered({offer.agent_id for offer in event.offers}, now)
        return actions

    def _observe_offered(self, agent_ids: set[str], now: float) -> None:
        """Feed the watermark of agents the master has not described yet, while their offers are in hand."""
        for agent_id in agent_ids:
            node = self.nodes.for_agent(agent_id)
            if node is not None and node.resources.total is None:
                node.resources.observe(
                    self.tasks.running_by_agent.get(agent_id, {}), self.offers.offered_cents(agent_id), now
                )

    def on_update(self, status: TaskStatus, now: float) -> Actions:
        self.metrics.count("task_updates_per_sec", 1, now)
        if status.state in FINISHED_TASK_STATES:
            self.metrics.count("tasks_finished_per_sec", 1, now)
        actions = Actions(acknowledge=[status] if status.uuid else [])
        self.reconciler.heard(status.task_id)
        task = self.tasks.get(status.task_id)
        if task is None:
            if not status.state.is_terminal:
                # Running on Mesos but not ours to run (forgotten, or from before a restart): stop it.
                log.warning("Killing task %s: the master runs it but this scheduler does not track it", status.task_id)
                actions.kill.append((status.task_id, status.agent_id))
            return actions
        self.tasks.on_update(status, now)
        if status.state in KILL_ON:
            # Not final in Mesos, but this try is over: stop it, and treat it as lost from here on.
            self.tasks.remove(task.task_id)
            actions.kill.append((task.task_id, task.agent_id))
            status = TaskStatus(status.task_id, TaskState.LOST, agent_id=status.agent_id, message=status.message)
        if task.kind is TaskKind.JOB:
            actions.extend(self._job_update(task, outcome_of(status, self.job_types.get(self._exe_type(task))), now))
        elif task.kind is TaskKind.NODE:
            node = self.nodes.get(task.data.get("hostname", ""))
            if node is not None:
                self.node_tasks.on_update(node, task.type, task.task_id, status, now)
        elif status.state.is_terminal:
            self._system_task_ended(task, status, now)
        return actions

    def _exe_type(self, task: Task) -> int:
        exe = self.exes.get(task.task_id)
        return exe.job_type_id if exe is not None else -1

    def _job_update(self, task: Task, outcome: Outcome | None, now: float) -> Actions:
        exe = self.exes.get(task.task_id)
        if outcome is None or exe is None:
            return Actions()
        del self.exes[task.task_id]
        self.tasks.remove(task.task_id)  # already gone for final states; UNREACHABLE ones are dropped here
        self.metrics.count("jobs_finished_per_sec", 1, now)
        self.exe_metrics.stopped_running(exe.node_id, exe.job_type_id)
        self.exe_metrics.finished(exe.node_id, exe.job_type_id, outcome.status, outcome.category, now, now)
        node = self.nodes.for_agent(exe.agent_id)
        if node is not None:
            self.node_tasks.exe_ended(node, exe.task_id, now)
        job_type = self.job_types.get(exe.job_type_id)
        max_tries = job_type.max_tries if job_type else 1
        if exe.exe_num < self._latest_try.get(exe.job_id, 0) or exe.job_id in self._ended_jobs:
            # An older try (left behind by an earlier failure) ended: it is recorded, but the job
            # belongs to its newest try, which is running, queued or done.
            log.warning(
                "Try %d of job %d ended after a newer try existed; the job is left alone", exe.exe_num, exe.job_id
            )
            job_status = JobStatus.RUNNING
        elif outcome.retryable and exe.exe_num < max_tries:
            job_status = JobStatus.QUEUED
            self._requeue(exe, task, tries=exe.exe_num, now=now)
        else:
            job_status = _JOB_STATUS[outcome.status]
            self._ended_jobs[exe.job_id] = now
            self._latest_try.pop(exe.job_id, None)
        log.debug(
            "Job %d try %d %s (%s): job %s", exe.job_id, exe.exe_num, outcome.status, outcome.category, job_status
        )
        record = ExeEnded(
            task.task_id, exe.job_id, exe.exe_num, outcome.status, outcome.category, outcome.exit_code, now, job_status
        )
        return Actions(records=[record])

    def _requeue(self, exe: RunningExe, task: Task, *, tries: int, now: float) -> None:
        """The job goes back to the queue in its old place (priority, age) with ``tries`` used."""
        priority, queued_at = task.data.get("priority", 100), task.data.get("queued_at", now)
        self.queue.add(QueuedJob(exe.job_id, exe.job_type_id, priority, queued_at, tries))

    def _system_task_ended(self, task: Task, status: TaskStatus, now: float) -> None:
        if task.type == MESSAGE_HANDLER:
            self.messaging.ended(task.task_id)
        elif task.type == DB_UPDATE:
            self.db_update.on_update(task.task_id, status, now)

    # --- the master's agent listing ---

    def apply_master_agents(self, reports: list[AgentReport], now: float) -> None:
        self.nodes.apply_master(reports, now)
        for report in reports:
            node = self.nodes.for_agent(report.agent_id)
            if node is None:
                continue
            node.resources.update_from_master(
                to_cents(report.total), to_cents(report.used), self.tasks.running_by_agent.get(report.agent_id, {})
            )
        self.master_agents_at = now

    # --- the scheduling cycle ---

    def cycle(self, now: float) -> Actions:
        """One scheduling cycle: every held offer is used or handed back."""
        if not self.subscribed:
            return Actions()
        actions = Actions()
        self._reset_nodes()
        self.work_waits = self._work_waits()
        actions.kill += [(task_id, self._agent_of(task_id)) for task_id in self.messaging.surplus(now)]
        actions.extend(self._kill_timed_out(now))
        actions.reconcile += self.reconciler.due(
            now,
            [
                (t.task_id, t.agent_id)
                for t in self.tasks
                if t.state is TaskState.STAGING and now - t.launched_at > 60.0
            ],
        )
        held = self.offers.take_all()
        if self.paused or not held or self.hold_launches:
            # Paused, or the runtime cannot write what a launch needs first: hand everything back.
            actions.decline += [offer.id for offer in held]
            return actions
        try:
            pool = self._pool(held, actions)
            waiting_system = self._place_system_tasks(pool, now)
            self._place_node_tasks(pool, now)
            if waiting_system:
                self.warnings.raise_warning(
                    WAITING_SYSTEM_TASKS.name, WAITING_SYSTEM_TASKS, WAITING_SYSTEM_TASKS.description, now
                )
            else:
                # Scale lets this age out over an hour; here it goes as soon as nothing waits.
                self.warnings.clear(WAITING_SYSTEM_TASKS.name)
                actions.records += self._place_jobs(pool, now)
        except Exception:
            # A bug in placement must not swallow offers: nothing of this cycle is launched.
            log.exception("Scheduling cycle failed; declining its offers")
            actions.decline += [offer.id for offer in held]
            return actions
        for capacity in pool.used():
            actions.launch.append(Launch(capacity.agent_id, [o.id for o in capacity.offers], capacity.tasks))
        actions.decline += [o.id for capacity in pool.unused() for o in capacity.offers]
        self.metrics.count("tasks_launched_per_sec", sum(len(launch.tasks) for launch in actions.launch), now)
        self.metrics.count("offers_launched_per_sec", sum(len(launch.offer_ids) for launch in actions.launch), now)
        return actions

    def _agent_of(self, task_id: str) -> str | None:
        task = self.tasks.get(task_id)
        return task.agent_id if task else None

    def _pool(self, held, actions: Actions) -> OfferPool:
        by_agent: dict[str, list] = {}
        for offer in held:
            by_agent.setdefault(offer.agent_id, []).append(offer)
        capacities = []
        for agent_id, offers in by_agent.items():
            node = self.nodes.for_agent(agent_id)
            if node is None or node.id is None:
                actions.decline += [offer.id for offer in offers]  # a node without its row yet waits a second
                continue
            capacities.append(capacity_of(agent_id, node, offers, self.offers.accepted_role))
        return OfferPool(capacities)

    def _state(self, node: Node):
        return node.state(self.paused)

    def _is_ready(self, node: Node) -> bool:
        return node.state(self.paused) is states.READY

    def _register(
        self, capacity: AgentCapacity, demand: TaskDemand, kind: TaskKind, task_type: str, now: float, **data
    ) -> Task:
        capacity.take(demand)
        task = Task(demand.task_id, capacity.agent_id, kind, task_type, to_cents(demand.resources), now, data=data)
        self.tasks.add(task)
        return task

    def _place_system_tasks(self, pool: OfferPool, now: float) -> bool:
        """Place the database update and missing message handlers; True if one could not be placed."""
        waiting = False
        demands = self.messaging.demands(self.new_task_id)
        update = self.db_update.demand(now, self.new_task_id)
        if update is not None:
            demands.insert(0, update)
        for demand in demands:
            capacity = pool.first_fit(demand.resources, self._is_ready)
            if capacity is None:
                waiting = True
                continue
            task_type = DB_UPDATE if demand is update else MESSAGE_HANDLER
            self._register(capacity, demand, TaskKind.SYSTEM, task_type, now)
            if demand is update:
                self.db_update.launched(demand.task_id)
            else:
                self.messaging.launched(demand.task_id)
        return waiting

    def _place_node_tasks(self, pool: OfferPool, now: float) -> None:
        for capacity in pool.capacities:
            node = capacity.node
            for task_type, demand in self.node_tasks.demands(node, self._state(node), now, self.new_task_id):
                if capacity.fits(demand.resources):
                    self._register(capacity, demand, TaskKind.NODE, task_type, now, hostname=node.hostname)
                    self.node_tasks.launched(node, task_type, demand.task_id, now)

    def _place_jobs(self, pool: OfferPool, now: float) -> list[ExeLaunched]:
        records: list[ExeLaunched] = []
        unplaceable: set[int] = set()  # job types that found no room this cycle: capacity only shrinks
        skip = self.resource_check.failing()
        unknown: set[int] = set()
        for job in self.queue:
            job_type = self.job_types.get(job.job_type_id)
            if job_type is None:
                unknown.add(job.job_type_id)
                continue
            if job.job_type_id in unplaceable or job.job_type_id in skip:
                continue
            capacity = pool.first_fit(job_type.resources, self._is_ready)
            if capacity is None:
                unplaceable.add(job.job_type_id)
                continue
            exe_num = max(job.num_exes, self._latest_try.get(job.job_id, 0)) + 1
            task_id = job_task_id(job.job_id, exe_num)
            if task_id in self.tasks:  # cannot happen by construction; never launch a try twice
                log.error("Try %s is already running; not launching it again", task_id)
                continue
            demand = TaskDemand(
                task_id,
                f"{job_type.name} {job_type.version} job {job.job_id}",
                job_type.resources,
                job_type.command,
                job_type.image,
                labels={"scale.job_id": str(job.job_id), "scale.job_type": f"{job_type.name}:{job_type.version}"},
            )
            self._register(
                capacity, demand, TaskKind.JOB, job_type.name, now, priority=job.priority, queued_at=job.queued_at
            )
            self.queue.remove(job.job_id)
            self._latest_try[job.job_id] = exe_num
            node = capacity.node
            self.exes[task_id] = RunningExe(job.job_id, exe_num, job_type.id, task_id, node.id, capacity.agent_id, now)
            self.exe_metrics.started(node.id, job_type.id)
            records.append(ExeLaunched(job.job_id, exe_num, job_type.id, task_id, node.id, now))
        if not unknown:
            self.warnings.clear(UNKNOWN_JOB_TYPE.name)  # Scale lets it age out over an hour
        for job_type_id in unknown:
            self.warnings.raise_warning(
                UNKNOWN_JOB_TYPE.name, UNKNOWN_JOB_TYPE, UNKNOWN_JOB_TYPE.description % job_type_id, now
            )
        self.metrics.count("jobs_launched_per_sec", len(records), now)
        return records

    # --- launches that did not happen ---

    def launch_refused(self, launch: Launch, now: float, *, written: bool) -> Actions:
        """The master refused the ACCEPT (or it was never sent): its tasks never ran.

        Tries already written to the database end as SYSTEM failures and are retried; tries not
        written yet simply go back to the queue with their try number unused.
        """
        actions = Actions()
        for spec in launch.tasks:
            task = self.tasks.get(spec.task_id)
            if task is None:
                continue
            if task.kind is TaskKind.JOB and not written:
                exe = self.exes.pop(task.task_id, None)
                self.tasks.remove(task.task_id)
                if exe is not None:
                    self.exe_metrics.stopped_running(exe.node_id, exe.job_type_id)
                    self._requeue(exe, task, tries=exe.exe_num - 1, now=now)  # this try never happened
                    self._latest_try[exe.job_id] = exe.exe_num - 1
            elif task.kind is TaskKind.JOB:
                actions.extend(self._job_update(task, system_failure(), now))
            else:
                status = TaskStatus(task.task_id, TaskState.DROPPED, agent_id=task.agent_id, message="launch refused")
                self.tasks.remove(task.task_id)
                if task.kind is TaskKind.NODE:
                    node = self.nodes.get(task.data.get("hostname", ""))
                    if node is not None:
                        self.node_tasks.on_update(node, task.type, task.task_id, status, now)
                else:
                    self._system_task_ended(task, status, now)
        return actions

    def reconcile_now(self, task_ids: list[str], now: float) -> Actions:
        """Ask the master about these tasks (a launch whose answer was lost)."""
        pairs = [(t, self._agent_of(t)) for t in task_ids if t in self.tasks]
        return Actions(reconcile=self.reconciler.start(pairs, now, implicit=False))

    # --- time ---

    def _kill_timed_out(self, now: float) -> Actions:
        actions = Actions()
        for task_id in self.node_tasks.timed_out(now):
            task = self.tasks.get(task_id)
            node = self.nodes.get(task.data.get("hostname", "")) if task else None
            if task is None or node is None:
                continue
            self.node_tasks.on_timeout(node, task.type, task_id, now)
            actions.kill.append((task_id, task.agent_id))
        return actions

    def _reset_nodes(self) -> None:
        for node in self.nodes.take_reset():
            self.node_tasks.reset(node)

    def tick(self, now: float) -> None:
        """Once a second: node rules, the execution window, the resource warnings."""
        self.nodes.tick(now, self.tasks.busy_agents())
        self._reset_nodes()
        if len(self._ended_jobs) > 10_000:  # long written by now: forget the oldest
            cutoff = sorted(self._ended_jobs.values())[-5_000]
            self._ended_jobs = {job: at for job, at in self._ended_jobs.items() if at >= cutoff}
        self.exe_metrics.prune(now)
        queued_types = {job.job_type_id for job in self.queue}
        self.resource_check.update(
            self.nodes, [self.job_types[jt] for jt in queued_types if jt in self.job_types], self.warnings, now
        )

    def _work_waits(self) -> bool:
        return bool(
            self.queue
            or (not self.messaging.in_process and self.messaging.actual_count < self.messaging.desired_count)
            or (self.db_update.completed_at is None and self.db_update.task_id is None)
            or any(node.online and not node.initial_cleanup_done for node in self.nodes)
        )
