"""Job executions: one per try of a job, and what a Mesos task state means for it."""

from __future__ import annotations

from dataclasses import dataclass

from scheduler.jobs.definitions import ErrorCategory, ExeStatus, JobType
from scheduler.tasks.status import TaskState, TaskStatus

# Outcomes that mean the platform failed the task, not the job: SYSTEM, and retried.
SYSTEM_FAILURES = frozenset(
    {
        TaskState.LOST,
        TaskState.GONE,
        TaskState.GONE_BY_OPERATOR,
        TaskState.DROPPED,
        TaskState.UNREACHABLE,
        TaskState.UNKNOWN,
        TaskState.ERROR,
    }
)


@dataclass(slots=True)
class RunningExe:
    job_id: int
    exe_num: int
    job_type_id: int
    task_id: str
    node_id: int
    agent_id: str
    started: float  # epoch seconds


@dataclass(frozen=True, slots=True)
class Outcome:
    status: ExeStatus
    category: ErrorCategory | None = None
    exit_code: int | None = None

    @property
    def retryable(self) -> bool:
        return self.status is ExeStatus.FAILED and self.category is ErrorCategory.SYSTEM


def outcome_awaits_agent(status: TaskStatus) -> bool:
    """A FAILED answer made by the master (reconciliation, an agent re-registering): Mesos' master
    keeps no exit status, so the category cannot be decided from it. The agent re-sends its own
    update, which carries the exit status, until it is acknowledged (10 s, doubling to 10 min)."""
    return (
        status.state is TaskState.FAILED
        and status.uuid is None
        and status.exit_code is None
        and status.source not in ("SOURCE_EXECUTOR", "SOURCE_AGENT")
    )


def outcome_of(status: TaskStatus, job_type: JobType | None) -> Outcome | None:
    """The execution's end, or None while the task is still on its way or running."""
    state = status.state
    if state is TaskState.FINISHED:
        return Outcome(ExeStatus.COMPLETED, exit_code=0)
    if state is TaskState.FAILED:
        exit_code = status.exit_code
        if job_type is None:
            return Outcome(ExeStatus.FAILED, ErrorCategory.ALGORITHM, exit_code)
        return Outcome(ExeStatus.FAILED, job_type.category_for_exit(exit_code), exit_code)
    if state is TaskState.KILLED:
        return Outcome(ExeStatus.CANCELED)
    if state in SYSTEM_FAILURES:
        # UNREACHABLE and UNKNOWN are not final in Mesos; the caller keeps an UNREACHABLE try for a
        # while, and kills the task before it ends the try, so that it cannot run alongside its retry.
        return Outcome(ExeStatus.FAILED, ErrorCategory.SYSTEM)
    return None


def unknown_failure() -> Outcome:
    """FAILED, as Mesos said, but the exit status never came: DATA or ALGORITHM cannot be told apart."""
    return Outcome(ExeStatus.FAILED, ErrorCategory.UNKNOWN)


def system_failure() -> Outcome:
    """An execution that never reached Mesos or that Mesos lost track of (agent removed, refused)."""
    return Outcome(ExeStatus.FAILED, ErrorCategory.SYSTEM)
