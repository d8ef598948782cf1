"""The tasks of ours that Mesos may be running, with per-agent sums of their resources."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum

from scheduler.change_log import ChangeLog
from scheduler.resources.accounting import Cents, add_cents
from scheduler.tasks.status import TaskState, TaskStatus


class TaskKind(StrEnum):
    JOB = "job"
    NODE = "node"  # cleanup, health check
    SYSTEM = "system"  # message handler, database update


@dataclass(slots=True)
class Task:
    task_id: str
    agent_id: str
    kind: TaskKind
    type: str  # e.g. "cleanup", "message-handler", or the job type name
    resources: Cents
    launched_at: float
    state: TaskState = TaskState.STAGING
    data: dict = field(default_factory=dict)  # what the owner of the task needs to remember


class TaskRegistry:
    def __init__(self) -> None:
        self._tasks: dict[str, Task] = {}
        self.running_by_agent: dict[str, Cents] = {}
        self.changes = ChangeLog()  # agents whose tasks were added or removed, for the status
        self.types_by_agent: dict[str, dict[tuple[TaskKind, str], int]] = {}  # live tasks per (kind, type)
        # Tasks still STAGING: the few just launched, or stuck. Kept apart so that looking for stuck
        # ones costs what they are, not all 100,000 tasks of a burst, on every pass.
        self.staging: dict[str, Task] = {}

    def __len__(self) -> int:
        return len(self._tasks)

    def __iter__(self) -> Iterator[Task]:
        return iter(self._tasks.values())

    def __contains__(self, task_id: str) -> bool:
        return task_id in self._tasks

    def get(self, task_id: str) -> Task | None:
        return self._tasks.get(task_id)

    def add(self, task: Task) -> None:
        if task.task_id in self._tasks:
            raise ValueError(f"task {task.task_id} is already tracked")
        self._tasks[task.task_id] = task
        if task.state is TaskState.STAGING:
            self.staging[task.task_id] = task
        add_cents(self.running_by_agent.setdefault(task.agent_id, {}), task.resources)
        counts = self.types_by_agent.setdefault(task.agent_id, {})
        counts[(task.kind, task.type)] = counts.get((task.kind, task.type), 0) + 1
        self._changed(task.agent_id)

    def _changed(self, agent_id: str) -> None:
        self.changes.touch(agent_id)

    def remove(self, task_id: str) -> Task | None:
        task = self._tasks.pop(task_id, None)
        if task is not None:
            self.staging.pop(task_id, None)
            self._changed(task.agent_id)
            counts = self.types_by_agent[task.agent_id]
            key = (task.kind, task.type)
            counts[key] -= 1
            if not counts[key]:
                del counts[key]
                if not counts:
                    del self.types_by_agent[task.agent_id]
            running = self.running_by_agent.get(task.agent_id)
            if running is not None:
                add_cents(running, task.resources, sign=-1)
                if not running:
                    del self.running_by_agent[task.agent_id]
        return task

    def on_update(self, status: TaskStatus, now: float) -> Task | None:
        """Record the task's new state; a task that reached a final state is no longer tracked."""
        task = self._tasks.get(status.task_id)
        if task is None:
            return None
        task.state = status.state
        if status.state is not TaskState.STAGING:
            self.staging.pop(status.task_id, None)
        if status.state.is_terminal:
            self.remove(status.task_id)
        return task

    def staging_since(self, before: float) -> list[Task]:
        """Tasks still STAGING that were launched before ``before``."""
        return [task for task in self.staging.values() if task.launched_at < before]

    def busy_agents(self) -> set[str]:
        return set(self.running_by_agent)

    def counts(self, agent_id: str, kind: TaskKind) -> dict[str, int]:
        """Live tasks of one kind on an agent, by type."""
        return {t: n for (k, t), n in self.types_by_agent.get(agent_id, {}).items() if k is kind}
