"""What the core asks the runtime to tell the master, as plain data."""

from __future__ import annotations

from dataclasses import dataclass, field

from scheduler.core.records import Record
from scheduler.tasks.spec import TaskSpec
from scheduler.tasks.status import TaskStatus


@dataclass(slots=True)
class Launch:
    """One ACCEPT: offers of one agent and the tasks to launch on them."""

    agent_id: str
    offer_ids: list[str]
    tasks: list[TaskSpec]


@dataclass(slots=True)
class Actions:
    """Carried out in this order: ``records`` are written (one transaction), then the calls made."""

    records: list[Record] = field(default_factory=list)
    decline: list[str] = field(default_factory=list)  # offer ids, declined with the refuse filter
    launch: list[Launch] = field(default_factory=list)
    acknowledge: list[TaskStatus] = field(default_factory=list)
    kill: list[tuple[str, str | None]] = field(default_factory=list)  # (task id, agent id)
    reconcile: list[list[tuple[str, str | None]]] = field(default_factory=list)  # one call each; [] is implicit

    def __bool__(self) -> bool:
        return bool(self.records or self.decline or self.launch or self.acknowledge or self.kill or self.reconcile)

    def extend(self, other: Actions) -> Actions:
        self.records += other.records
        self.decline += other.decline
        self.launch += other.launch
        self.acknowledge += other.acknowledge
        self.kill += other.kill
        self.reconcile += other.reconcile
        return self

    def __str__(self) -> str:
        tasks = sum(len(launch.tasks) for launch in self.launch)
        return (
            f"launch {tasks} tasks on {len(self.launch)} agents, decline {len(self.decline)} offers, "
            f"kill {len(self.kill)}, acknowledge {len(self.acknowledge)}, reconcile {len(self.reconcile)}, "
            f"write {len(self.records)} records"
        )
