"""What happens to our tasks: the master's status updates, and launches that never happened.

A job try's end is a record (written before its update is acknowledged) and, when the failure is
the platform's and tries remain, the job back in the queue in its old place.
"""

from __future__ import annotations

import logging

from scheduler.core.actions import Actions, Launch
from scheduler.core.records import ExeEnded
from scheduler.core.state import CoreState
from scheduler.jobs.definitions import ExeStatus, JobStatus
from scheduler.jobs.executions import Outcome, RunningExe, outcome_of, system_failure
from scheduler.jobs.queue import QueuedJob
from scheduler.scheduling.system_tasks import DB_UPDATE, MESSAGE_HANDLER
from scheduler.tasks.registry import Task, TaskKind
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


def on_update(state: CoreState, status: TaskStatus, now: float) -> Actions:
    state.metrics.count("task_updates_per_sec", 1, now)
    if status.state in FINISHED_TASK_STATES:
        state.metrics.count("tasks_finished_per_sec", 1, now)
    actions = Actions(acknowledge=[status] if status.uuid else [])
    state.reconciler.heard(status.task_id)
    task = state.tasks.get(status.task_id)
    if task is None:
        if not status.state.is_terminal:
            # Running on Mesos but not ours to run (forgotten, or from before a restart): stop it.
            log.warning("Killing task %s: the master runs it but this scheduler does not track it", status.task_id)
            actions.kill.append((status.task_id, status.agent_id))
        return actions
    state.tasks.on_update(status, now)
    if status.state in KILL_ON:
        # Not final in Mesos, but this try is over: stop it, and treat it as lost from here on.
        state.tasks.remove(task.task_id)
        actions.kill.append((task.task_id, task.agent_id))
        status = TaskStatus(status.task_id, TaskState.LOST, agent_id=status.agent_id, message=status.message)
    if task.kind is TaskKind.JOB:
        exe = state.exes.get(task.task_id)
        job_type = state.job_types.get(exe.job_type_id if exe is not None else -1)
        actions.extend(job_ended(state, task, outcome_of(status, job_type), now))
    elif task.kind is TaskKind.NODE:
        node = state.nodes.get(task.data.get("hostname", ""))
        if node is not None:
            state.node_tasks.on_update(node, task.type, task.task_id, status, now)
    elif status.state.is_terminal:
        system_task_ended(state, task, status, now)
    return actions


def job_ended(state: CoreState, task: Task, outcome: Outcome | None, now: float) -> Actions:
    """A try's end (``outcome``; None while it is still on its way or running): its record, and the job's fate."""
    exe = state.exes.get(task.task_id)
    if outcome is None or exe is None:
        return Actions()
    _forget_try(state, exe, task)
    state.metrics.count("jobs_finished_per_sec", 1, now)
    state.exe_metrics.finished(exe.node_id, exe.job_type_id, outcome.status, outcome.category, now, now)
    node = state.nodes.for_agent(exe.agent_id)
    if node is not None:
        state.node_tasks.exe_ended(node, exe.task_id, now)
    job_type = state.job_types.get(exe.job_type_id)
    max_tries = job_type.max_tries if job_type else 1
    if exe.exe_num < state.latest_try.get(exe.job_id, 0) or exe.job_id in state.ended_jobs:
        # An older try (left behind by an earlier failure) ended: it is recorded, but the job
        # belongs to its newest try, which is running, queued or done.
        log.warning("Try %d of job %d ended after a newer try existed; the job is left alone", exe.exe_num, exe.job_id)
        job_status = JobStatus.RUNNING
    elif outcome.retryable and exe.exe_num < max_tries:
        job_status = JobStatus.QUEUED
        requeue(state, exe, task, tries=exe.exe_num, now=now)
    else:
        job_status = _JOB_STATUS[outcome.status]
        state.ended_jobs[exe.job_id] = now
        state.latest_try.pop(exe.job_id, None)
    log.debug("Job %d try %d %s (%s): job %s", exe.job_id, exe.exe_num, outcome.status, outcome.category, job_status)
    record = ExeEnded(
        task.task_id, exe.job_id, exe.exe_num, outcome.status, outcome.category, outcome.exit_code, now, job_status
    )
    return Actions(records=[record])


def _forget_try(state: CoreState, exe: RunningExe, task: Task) -> None:
    del state.exes[task.task_id]
    state.tasks.remove(task.task_id)  # already gone for final states; UNREACHABLE ones are dropped here
    state.exe_metrics.stopped_running(exe.node_id, exe.job_type_id)


def requeue(state: CoreState, exe: RunningExe, task: Task, *, tries: int, now: float) -> None:
    """The job goes back to the queue in its old place (priority, age) with ``tries`` used."""
    priority, queued_at = task.data.get("priority", 100), task.data.get("queued_at", now)
    state.queue.add(QueuedJob(exe.job_id, exe.job_type_id, priority, queued_at, tries))


def system_task_ended(state: CoreState, task: Task, status: TaskStatus, now: float) -> None:
    if task.type == MESSAGE_HANDLER:
        state.messaging.ended(task.task_id)
    elif task.type == DB_UPDATE:
        state.db_update.on_update(task.task_id, status, now)


def launch_not_made(state: CoreState, launch: Launch, now: float, *, written: bool, withdrawn: bool = False) -> Actions:
    """A launch whose tasks never ran: refused by the master, its records not written, or withdrawn.

    Tries not written yet simply go back to the queue with their try number unused. Written tries
    end as SYSTEM failures and are retried (the master refused them), or, when ``withdrawn`` (the
    scheduler or the node was paused before the ACCEPT went out), end CANCELED with the job queued
    again: a pause is not the job's failure.
    """
    actions = Actions()
    for spec in launch.tasks:
        task = state.tasks.get(spec.task_id)
        if task is None:
            continue
        if task.kind is TaskKind.JOB:
            exe = state.exes.get(task.task_id)
            if exe is None:
                state.tasks.remove(task.task_id)
            elif not written:
                _forget_try(state, exe, task)
                requeue(state, exe, task, tries=exe.exe_num - 1, now=now)  # this try never happened
                state.latest_try[exe.job_id] = exe.exe_num - 1
            elif withdrawn:
                _forget_try(state, exe, task)
                requeue(state, exe, task, tries=exe.exe_num, now=now)
                actions.records.append(
                    ExeEnded(
                        task.task_id, exe.job_id, exe.exe_num, ExeStatus.CANCELED, None, None, now, JobStatus.QUEUED
                    )
                )
            else:
                actions.extend(job_ended(state, task, system_failure(), now))
            continue
        status = TaskStatus(task.task_id, TaskState.DROPPED, agent_id=task.agent_id, message="launch not made")
        state.tasks.remove(task.task_id)
        if task.kind is TaskKind.NODE:
            node = state.nodes.get(task.data.get("hostname", ""))
            if node is not None:
                state.node_tasks.on_update(node, task.type, task.task_id, status, now)
        else:
            system_task_ended(state, task, status, now)
    return actions


def reconcile_launch(state: CoreState, launch: Launch, now: float) -> Actions:
    """Ask the master about a launch's tasks (its ACCEPT got no answer)."""
    pairs = [(spec.task_id, spec.agent_id) for spec in launch.tasks if spec.task_id in state.tasks]
    return Actions(reconcile=state.reconciler.start(pairs, now, implicit=False))
