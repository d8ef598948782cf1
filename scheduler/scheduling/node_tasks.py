"""Node tasks: the cleanups and health checks every node runs, and the conditions they raise.

Scale's rules (its scheduler/node/node_class.py and conditions.py):
- the first cleanup of a node is the initial one; the node stays INITIAL_CLEANUP until it succeeds;
- later cleanups each take up to 25 finished job executions; none is launched when none wait;
- a health check runs every 5 minutes, 2 minutes after a failure or a timeout; its exit code names
  the error (2 BAD_DAEMON, 3 LOW_DOCKER_SPACE, 4 BAD_LOGSTASH, other HEALTH_FAIL);
- a failed or timed-out cleanup raises the CLEANUP error and a numbered CLEANUP_FAILURE or
  CLEANUP_TIMEOUT warning; a successful one clears CLEANUP and drops warnings 3 hours old;
- 100 or more executions waiting for cleanup raise SLOW_CLEANUP, cleared below 100;
- a node going offline or deprecated starts over from its initial cleanup; conditions stay.
"""

from __future__ import annotations

import itertools
import math
import shlex
from dataclasses import dataclass, field

from scheduler.nodes import conditions as kinds
from scheduler.nodes import states
from scheduler.nodes.node import Node
from scheduler.nodes.states import NodeState
from scheduler.scheduling.planner import TaskDemand
from scheduler.tasks.status import TaskState, TaskStatus

CLEANUP = "cleanup"
HEALTH_CHECK = "health-check"
TITLES = {
    CLEANUP: ("Node Cleanup", "Performs Docker container and volume cleanup on the node"),
    HEALTH_CHECK: ("Node Health Check", "Checks the health status of the node"),
}
RESOURCES = {"cpus": 0.1, "mem": 32.0}

MAX_EXES_PER_CLEANUP = 25
SLOW_CLEANUP_AT = 100
HEALTH_EVERY_S = 300.0
HEALTH_AFTER_ERROR_S = 120.0
CLEANUP_AFTER_ERROR_S = 120.0
TASK_TIMEOUT_S = 900.0  # a health check or cleanup running longer is killed and counted as timed out
OLD_WARNING_S = 3 * 3600.0

CLEANUP_STATES = (states.INITIAL_CLEANUP, states.READY, states.DEGRADED)
HEALTH_STATES = (states.INITIAL_CLEANUP, states.READY, states.DEGRADED)

# Only containers that have exited: a cleanup never touches one that runs (after a scheduler restart,
# the node's running tries are still ours, reconciled, not relaunched).
INITIAL_CLEANUP_COMMAND = (
    "docker ps -aq --filter label=scale-scheduler --filter status=exited | xargs -r docker rm -v; "
    "docker volume ls -q --filter dangling=true --filter label=scale-scheduler | xargs -r docker volume rm"
)
HEALTH_COMMAND = (
    "timeout 10 docker version >/dev/null 2>&1 || exit 2; "
    "timeout 10 docker ps >/dev/null 2>&1 || exit 2; "
    "if [ -d /var/lib/docker ]; then "
    "free=$(df -Pk /var/lib/docker | awk 'NR==2 {print $4}'); [ \"$free\" -ge 1048576 ] || exit 3; fi; "
    'if [ -n "$LOGGING_HEALTH_ADDRESS" ]; then timeout 5 curl -sf "$LOGGING_HEALTH_ADDRESS" >/dev/null || exit 4; fi'
)


def cleanup_command(exe_task_ids: list[str]) -> str:
    """Remove the exited containers of these job tries (labelled at launch, see calls.task_info)."""
    removals = " ".join(shlex.quote(f"label=scale-scheduler.task_id={task_id}") for task_id in exe_task_ids)
    return f'for f in {removals}; do docker ps -aq --filter "$f" --filter status=exited | xargs -r docker rm -v; done'


@dataclass(slots=True)
class NodeWork:
    """What one node's tasks are doing."""

    cleanup_task: str | None = None
    cleanup_exes: list[str] = field(default_factory=list)  # the executions the running cleanup removes
    pending_exes: list[str] = field(default_factory=list)  # finished executions waiting for a cleanup
    health_task: str | None = None
    health_due_at: float = 0.0
    cleanup_error_at: float | None = None
    started: dict[str, float] = field(default_factory=dict)  # task id -> launch time


class NodeTaskManager:
    def __init__(self, *, logging_health_address: str | None = None) -> None:
        self._work: dict[str, NodeWork] = {}
        self._warning_numbers = itertools.count(1)  # Scale numbers each cleanup warning
        # No node task times out before this: the check runs every pass, and looking through every
        # node's tasks (10,000 nodes) each time would cost a pass more than its placement.
        self._timeout_check_at = math.inf
        self._environment = {"LOGGING_HEALTH_ADDRESS": logging_health_address} if logging_health_address else None

    def work(self, node: Node) -> NodeWork:
        return self._work.setdefault(node.hostname, NodeWork())

    # --- what to launch ---

    def demands(self, node: Node, state: NodeState, now: float, new_id) -> list[tuple[str, TaskDemand]]:
        """(task type, demand) pairs this node wants launched now; ``new_id(kind)`` names tasks."""
        work = self.work(node)
        wanted = []
        if work.cleanup_task is None and state in CLEANUP_STATES and self._cleanup_allowed(node, work, state, now):
            if not node.initial_cleanup_done:
                wanted.append(
                    (CLEANUP, TaskDemand(new_id(CLEANUP), "Node initial cleanup", RESOURCES, INITIAL_CLEANUP_COMMAND))
                )
            elif work.pending_exes:
                exes = work.pending_exes[:MAX_EXES_PER_CLEANUP]
                wanted.append(
                    (
                        CLEANUP,
                        TaskDemand(
                            new_id(CLEANUP),
                            "Node cleanup",
                            RESOURCES,
                            cleanup_command(exes),
                            labels={"scale.exes": str(len(exes))},
                        ),
                    )
                )
        if work.health_task is None and state in HEALTH_STATES and now >= work.health_due_at:
            wanted.append(
                (
                    HEALTH_CHECK,
                    TaskDemand(
                        new_id(HEALTH_CHECK),
                        "Node health check",
                        RESOURCES,
                        HEALTH_COMMAND,
                        environment=self._environment,
                    ),
                )
            )
        return wanted

    def surely_idle(self, node: Node, now: float) -> bool:
        """True when no task of this node can be due now, whatever its state: a cheap test before
        ``demands`` (asked of every node each cycle to know whether work waits)."""
        work = self._work.get(node.hostname)
        if work is None:
            return False
        cleanup = work.cleanup_task is None and (not node.initial_cleanup_done or bool(work.pending_exes))
        health = work.health_task is None and now >= work.health_due_at
        return not (cleanup or health)

    @staticmethod
    def _cleanup_allowed(node: Node, work: NodeWork, state: NodeState, now: float) -> bool:
        if state is not states.DEGRADED:
            return True
        if kinds.BAD_DAEMON.name in node.conditions.errors:
            return False
        return work.cleanup_error_at is None or now - work.cleanup_error_at >= CLEANUP_AFTER_ERROR_S

    def launched(self, node: Node, task_type: str, task_id: str, now: float) -> None:
        work = self.work(node)
        work.started[task_id] = now
        self._timeout_check_at = min(self._timeout_check_at, now + TASK_TIMEOUT_S)
        if task_type == CLEANUP:
            work.cleanup_task = task_id
            if node.initial_cleanup_done:
                work.cleanup_exes = work.pending_exes[:MAX_EXES_PER_CLEANUP]
                del work.pending_exes[:MAX_EXES_PER_CLEANUP]
        else:
            work.health_task = task_id

    # --- what happened ---

    def exe_ended(self, node: Node, exe_task_id: str, now: float) -> None:
        work = self.work(node)
        work.pending_exes.append(exe_task_id)
        self._update_slow_cleanup(node, work, now)

    def _update_slow_cleanup(self, node: Node, work: NodeWork, now: float) -> None:
        waiting = len(work.pending_exes) + len(work.cleanup_exes)
        if waiting >= SLOW_CLEANUP_AT:
            node.conditions.raise_warning(
                kinds.SLOW_CLEANUP.name, kinds.SLOW_CLEANUP, kinds.SLOW_CLEANUP.description % waiting, now
            )
        else:
            node.conditions.clear_warning(kinds.SLOW_CLEANUP.name)

    def on_update(self, node: Node, task_type: str, task_id: str, status: TaskStatus, now: float) -> None:
        """A node task's update; only final ones change anything."""
        if not status.state.is_terminal:
            return
        work = self.work(node)
        work.started.pop(task_id, None)
        if task_type == CLEANUP and work.cleanup_task == task_id:
            self._cleanup_ended(node, work, status.state, now, timed_out=False)
        elif task_type == HEALTH_CHECK and work.health_task == task_id:
            self._health_ended(node, work, status, now)

    def _cleanup_ended(self, node: Node, work: NodeWork, state: TaskState, now: float, *, timed_out: bool) -> None:
        exes, work.cleanup_task, work.cleanup_exes = work.cleanup_exes, None, []
        if state is TaskState.FINISHED and not timed_out:
            node.initial_cleanup_done = True
            node.conditions.clear_errors(kinds.CLEANUP)
            node.conditions.drop_warnings_older_than(OLD_WARNING_S, now, keep=(kinds.SLOW_CLEANUP.name,))
            self._update_slow_cleanup(node, work, now)
            return
        work.pending_exes[:0] = exes  # they still need removing
        if state in (TaskState.FAILED, TaskState.ERROR) or timed_out:
            work.cleanup_error_at = now
            node.conditions.raise_error(kinds.CLEANUP, now)
            if exes:
                kind = kinds.CLEANUP_TIMEOUT if timed_out else kinds.CLEANUP_FAILURE
                name = f"{kind.name} {next(self._warning_numbers)}"
                node.conditions.raise_warning(name, kind, kind.description % _job_list(exes), now)
        # KILLED or LOST: a replacement is launched at the next opportunity, nothing is raised.

    def _health_ended(self, node: Node, work: NodeWork, status: TaskStatus, now: float) -> None:
        work.health_task = None
        state = status.state
        if state is TaskState.FINISHED:
            node.conditions.clear_errors(*kinds.HEALTH_ERRORS)
            work.health_due_at = now + HEALTH_EVERY_S
        elif state is TaskState.FAILED:
            node.conditions.clear_errors(*kinds.HEALTH_ERRORS)
            node.conditions.raise_error(kinds.HEALTH_EXIT_CODES.get(status.exit_code, kinds.HEALTH_FAIL), now)
            work.health_due_at = now + HEALTH_AFTER_ERROR_S
        else:  # killed or lost: health is as it was; check again at once
            work.health_due_at = now

    def timed_out(self, now: float) -> list[str]:
        """Task ids of node tasks running past their timeout (to be killed)."""
        if now < self._timeout_check_at:
            return []
        out = []
        next_at = math.inf
        for work in self._work.values():
            for task_id, started in work.started.items():
                if now - started >= TASK_TIMEOUT_S:
                    out.append(task_id)
                else:
                    next_at = min(next_at, started + TASK_TIMEOUT_S)
        # The ones returned are killed (``on_timeout`` forgets them); should one stay, look again soon.
        self._timeout_check_at = next_at if not out else now
        return out

    def on_timeout(self, node: Node, task_type: str, task_id: str, now: float) -> None:
        work = self.work(node)
        work.started.pop(task_id, None)
        if task_type == CLEANUP and work.cleanup_task == task_id:
            self._cleanup_ended(node, work, TaskState.KILLED, now, timed_out=True)
        elif task_type == HEALTH_CHECK and work.health_task == task_id:
            work.health_task = None
            node.conditions.clear_errors(*kinds.HEALTH_ERRORS)
            node.conditions.raise_error(kinds.HEALTH_TIMEOUT, now)
            work.health_due_at = now + HEALTH_AFTER_ERROR_S

    def reset(self, node: Node) -> None:
        """A node that went offline or was retired starts over: initial cleanup, fresh health."""
        node.initial_cleanup_done = False
        self._work.pop(node.hostname, None)


def _job_list(exe_task_ids: list[str]) -> str:
    return "[" + ", ".join(exe_task_ids) + "]"
