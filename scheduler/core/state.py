"""The core's state: one value holding offers, nodes, tasks, jobs, metrics and warnings.

Only the functions of this package change it (``apply``, ``advance``, ``plan_cycle``), each called
by the engine with one input and the current time; everything else reads it, or better, reads the
snapshot built from it.
"""

from __future__ import annotations

import itertools

from scheduler.core.launches import DEFAULT_LIMIT as DEFAULT_LAUNCH_LIMIT
from scheduler.core.launches import LaunchesInFlight
from scheduler.core.reconciler import Reconciler
from scheduler.core.task_watch import OUTCOME_WAIT_S, UNREACHABLE_TIMEOUT_S, TaskWatch
from scheduler.core.warnings import MasterContact, SchedulerWarnings
from scheduler.jobs.definitions import JobType
from scheduler.jobs.exe_metrics import JobExeMetrics
from scheduler.jobs.executions import RunningExe
from scheduler.jobs.queue import JobQueue
from scheduler.jobs.resource_check import ResourceCheck
from scheduler.metrics.scheduler_metrics import SchedulerMetrics
from scheduler.nodes.failure_rate import FailureRates
from scheduler.nodes.registry import NodeRegistry
from scheduler.offers.book import OfferBook
from scheduler.scheduling.node_tasks import CLEANUP, HEALTH_CHECK, NodeTaskManager
from scheduler.scheduling.pending import PendingCounts
from scheduler.scheduling.system_tasks import DB_UPDATE, MESSAGE_HANDLER, DatabaseUpdate, MessagingService, TaskTemplate
from scheduler.tasks.registry import TaskRegistry


def job_task_id(job_id: int, exe_num: int) -> str:
    """Deterministic, so a try's task id is known before launch and after a restart."""
    return f"scale-job-{job_id}-{exe_num}"


TASK_KINDS = frozenset({CLEANUP, HEALTH_CHECK, DB_UPDATE, MESSAGE_HANDLER})  # the tasks kept in memory only


class TaskIds:
    """Ids for node and system tasks: unique across restarts through a start token (the start time,
    passed in: the core never reads the wall clock)."""

    def __init__(self, started: float) -> None:
        self._token = format(int(started * 1000), "x")
        self._numbers = itertools.count(1)

    def __call__(self, kind: str) -> str:
        return f"scale-{kind}-{self._token}-{next(self._numbers)}"

    def from_earlier_run(self, task_id: str) -> bool:
        """A node or system task id of this scheduler, made before its last start (another token).
        Such tasks are kept in memory only: after a restart they are stopped and made again when due."""
        parts = task_id.split("-")
        return (
            len(parts) >= 4
            and parts[0] == "scale"
            and parts[-2] != self._token
            and parts[-1].isdigit()
            and _is_hex(parts[-2])
            and "-".join(parts[1:-2]) in TASK_KINDS
        )


def _is_hex(text: str) -> bool:
    return bool(text) and all(c in "0123456789abcdef" for c in text)


class CoreState:
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
        unreachable_timeout_s: float = UNREACHABLE_TIMEOUT_S,
        outcome_wait_s: float = OUTCOME_WAIT_S,
        pause_failing_nodes: bool = False,
        max_launches_in_flight: int = DEFAULT_LAUNCH_LIMIT,
    ) -> None:
        self.hostname = hostname
        self.offers = OfferBook(accepted_role)
        self.nodes = NodeRegistry(retire_after_s=node_retire_after_s)
        self.tasks = TaskRegistry()
        self.metrics = SchedulerMetrics(metrics_window_s, now)
        self.warnings = SchedulerWarnings()
        self.master = MasterContact(now)  # since when the master is not heard (NOT_SUBSCRIBED)
        self.job_types: dict[int, JobType] = {}
        self.queue = JobQueue()
        self.exes: dict[str, RunningExe] = {}  # task id -> the running try
        self.ended_jobs: dict[int, float] = {}  # job id -> when it ended; a stale read must not requeue it
        self.latest_try: dict[int, int] = {}  # job id -> its newest try launched (or adopted)
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
        # While a launch cannot be made safe (framework id or records unwritten): from the engine's input.
        self.hold_launches = False
        self.pending: PendingCounts = {}  # the last cycle's unplaced jobs, by type and reason
        # Partitions, outcomes awaited, kills sent again (core/task_watch.py); black-hole nodes.
        self.watch = TaskWatch(unreachable_timeout_s=unreachable_timeout_s, outcome_wait_s=outcome_wait_s)
        self.failure_rates = FailureRates()
        self.pause_failing_nodes = pause_failing_nodes
        # Tasks placed whose ACCEPT the master has not answered: placement waits at the bound.
        self.launches = LaunchesInFlight(max_launches_in_flight)
