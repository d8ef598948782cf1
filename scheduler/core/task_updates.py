"""What happens to our tasks: the master's status updates, and launches that never happened.

A job try's end is a record (written before its update is acknowledged) and, when the failure is
the platform's and tries remain, the job back in the queue in its old place.
"""

from __future__ import annotations

import logging

from scheduler.core.actions import Actions, Launch
from scheduler.core.records import ExeEnded
from scheduler.core.state import CoreState
from scheduler.jobs.definitions import ErrorCategory, ExeStatus, JobStatus
from scheduler.jobs.executions import (
    Outcome,
    RunningExe,
    outcome_awaits_agent,
    outcome_of,
    system_failure,
    unknown_failure,
)
from scheduler.jobs.queue import QueuedJob
from scheduler.nodes.failure_rate import mark_failing_nodes
from scheduler.nodes.unreachable import mark_unreachable_agents
from scheduler.scheduling.system_tasks import DB_UPDATE, MESSAGE_HANDLER
from scheduler.tasks.registry import Task, TaskKind
from scheduler.tasks.status import TaskState, TaskStatus

log = logging.getLogger(__name__)

# Scale counts these as finished tasks; LOST and the other terminal states are not counted.
FINISHED_TASK_STATES = frozenset({TaskState.FINISHED, TaskState.FAILED, TaskState.KILLED})
# Not final in Mesos, but final for a try of ours: the task is killed so it cannot come back.
# TASK_UNKNOWN: the master knows neither the task nor its agent (it may still run somewhere).
# TASK_UNREACHABLE is here only for node and system tasks; a job's try is kept (see ``TaskWatch``).
KILL_ON = frozenset({TaskState.UNREACHABLE, TaskState.UNKNOWN})
# Answers after which a kill need not be sent again: the task is over, or the master knows nothing of it.
KILL_OVER = frozenset({TaskState.UNKNOWN})
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
    if status.state.is_terminal or status.state in KILL_OVER:
        state.watch.kill_done(status.task_id)
    awaited = state.watch.awaiting.get(status.task_id)
    if awaited is not None:
        return actions.extend(_outcome_arrived(state, awaited.task, awaited.since, status, now))
    task = state.tasks.get(status.task_id)
    if task is None:
        if status.state is TaskState.UNREACHABLE and state.watch.is_killing(status.task_id):
            # The master's answer to our kill of an unreachable task: sent again later, not now
            # (killing at once on each such answer would loop with the master).
            return actions
        if not status.state.is_terminal:
            # Running on Mesos but not ours to run (forgotten, or from before a restart): stop it.
            if state.new_task_id.from_earlier_run(status.task_id):
                log.info("Stopping task %s: a node or system task of this scheduler before its restart", status.task_id)
            else:
                log.warning("Killing task %s: the master runs it but this scheduler does not track it", status.task_id)
            actions.kill.append((status.task_id, status.agent_id))
        return actions
    state.tasks.on_update(status, now)
    if task.kind is TaskKind.JOB and status.state is TaskState.UNREACHABLE:
        # Partition-aware: the agent may come back with the task still running. Keep the try.
        if state.watch.became_unreachable(task.task_id, task.agent_id, now):
            log.warning(
                "Task %s is unreachable (agent %s); kept for %.0f s before it is retried",
                task.task_id,
                task.agent_id,
                state.watch.unreachable_timeout_s,
            )
        return actions
    if state.watch.reachable(task.task_id):
        log.info("Task %s is reachable again (%s)", task.task_id, status.state)
    if task.kind is TaskKind.JOB and outcome_awaits_agent(status):
        # Ended, says the master, but without the exit status: the agent's own update will carry it.
        log.info("Task %s ended %s by the master's word; its exit status is awaited", task.task_id, status.state)
        state.watch.await_outcome(task, now)
        return actions
    if status.state in KILL_ON:
        return actions.extend(_give_up(state, task, status, now))
    return actions.extend(_task_changed(state, task, status, now))


def _task_changed(state: CoreState, task: Task, status: TaskStatus, now: float, ended: float | None = None) -> Actions:
    if task.kind is TaskKind.JOB:
        exe = state.exes.get(task.task_id)
        job_type = state.job_types.get(exe.job_type_id if exe is not None else -1)
        return job_ended(state, task, outcome_of(status, job_type), now, ended=ended)
    if task.kind is TaskKind.NODE:
        node = state.nodes.get(task.data.get("hostname", ""))
        if node is not None:
            state.node_tasks.on_update(node, task.type, task.task_id, status, now)
    elif status.state.is_terminal:
        system_task_ended(state, task, status, now)
    return Actions()


def _give_up(state: CoreState, task: Task, status: TaskStatus, now: float) -> Actions:
    """Not final in Mesos, but this try is over: stop it, and treat it as lost from here on."""
    state.tasks.remove(task.task_id)
    actions = Actions(kill=[(task.task_id, task.agent_id)])
    lost = TaskStatus(status.task_id, TaskState.LOST, agent_id=status.agent_id, message=status.message)
    return actions.extend(_task_changed(state, task, lost, now))


def _outcome_arrived(state: CoreState, task: Task, since: float, status: TaskStatus, now: float) -> Actions:
    """An update for a try whose end came without its exit status (``since``): decided if it has it."""
    if outcome_awaits_agent(status) or not status.state.is_terminal:
        return Actions()  # the master's answer again (another reconciliation): still waiting
    del state.watch.awaiting[task.task_id]
    log.info("Task %s: the agent's update arrived after %.0f s (%s)", task.task_id, now - since, status.message)
    return _task_changed(state, task, status, now, ended=since)


def on_time(state: CoreState, now: float) -> Actions:
    """The scheduling clock: unreachable tries past their timeout, outcomes awaited too long, kills
    to send again, and the nodes' own rules (unreachable agents, black holes)."""
    actions = Actions()
    for task_id in state.watch.unreachable_expired(now):
        task = state.tasks.get(task_id)
        if task is None:
            continue
        log.warning(
            "Task %s unreachable for %.0f s: killed, and its try retried", task_id, state.watch.unreachable_timeout_s
        )
        message = f"unreachable for more than {state.watch.unreachable_timeout_s:g} s"
        status = TaskStatus(task_id, TaskState.UNREACHABLE, agent_id=task.agent_id, message=message)
        actions.extend(_give_up(state, task, status, now))
    for awaited in state.watch.outcome_expired(now):
        task = awaited.task
        log.warning(
            "Task %s: no exit status %.0f s after the master said it FAILED; its category is UNKNOWN",
            task.task_id,
            now - awaited.since,
        )
        actions.extend(job_ended(state, task, unknown_failure(), now, ended=awaited.since))
    if state.subscribed:  # a kill made while not subscribed is refused: wait for the subscription
        actions.kill += state.watch.kills_due(now)
    watch = state.watch
    watch.unreachable_nodes = mark_unreachable_agents(
        state.nodes, watch.unreachable_agents(), now, watch.unreachable_nodes
    )
    mark_failing_nodes(state.nodes, state.failure_rates, now, pause=state.pause_failing_nodes)
    return actions


def job_ended(
    state: CoreState, task: Task, outcome: Outcome | None, now: float, *, ended: float | None = None
) -> Actions:
    """A try's end (``outcome``; None while it is still on its way or running): its record, and the
    job's fate. ``ended``: when Mesos said it ended, if that was before ``now``."""
    exe = state.exes.get(task.task_id)
    if outcome is None or exe is None:
        return Actions()
    _forget_try(state, exe, task)
    ended = now if ended is None else ended
    state.metrics.count("jobs_finished_per_sec", 1, now)
    state.exe_metrics.finished(exe.node_id, exe.job_type_id, outcome.status, outcome.category, ended, now)
    node = state.nodes.for_agent(exe.agent_id)
    if node is not None:
        state.node_tasks.exe_ended(node, exe.task_id, now)
        if outcome.status is not ExeStatus.CANCELED:
            state.failure_rates.ended(node.hostname, outcome.category is ErrorCategory.SYSTEM, now)
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
        task.task_id, exe.job_id, exe.exe_num, outcome.status, outcome.category, outcome.exit_code, ended, job_status
    )
    return Actions(records=[record])


def _forget_try(state: CoreState, exe: RunningExe, task: Task) -> None:
    del state.exes[task.task_id]
    state.tasks.remove(task.task_id)  # already gone for final states; UNREACHABLE ones are dropped here
    state.watch.reachable(task.task_id)
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
