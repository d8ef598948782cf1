"""What the core asks the runtime to do, as plain data: records to write, calls to the master."""

from __future__ import annotations

from dataclasses import dataclass, field

from scheduler.core.records import NodeRecord, Record
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
    """Carried out in this order: ``records`` are written (one transaction), then ``launch`` and
    ``acknowledge`` go back to the core as ``WriteDone`` (launches) or to the master (acknowledgements).
    The other calls need no record and are made at once."""

    records: list[Record] = field(default_factory=list)
    decline: list[str] = field(default_factory=list)  # offer ids, declined with the refuse filter
    # Offers left over while launches waited for room (in flight at their bound, or the pass's share
    # placed): not needed for a while, declined with a longer filter than ``decline``'s.
    decline_unneeded: list[str] = field(default_factory=list)
    launch: list[Launch] = field(default_factory=list)  # planned: their records are written first
    accept: list[Launch] = field(default_factory=list)  # records written: ACCEPT now
    acknowledge: list[TaskStatus] = field(default_factory=list)
    kill: list[tuple[str, str | None]] = field(default_factory=list)  # (task id, agent id)
    reconcile: list[list[tuple[str, str | None]]] = field(default_factory=list)  # one call each; [] is implicit
    nodes: list[NodeRecord] = field(default_factory=list)  # node rows to write (in the background)

    def __bool__(self) -> bool:
        return bool(
            self.records
            or self.decline
            or self.decline_unneeded
            or self.launch
            or self.accept
            or self.acknowledge
            or self.kill
            or self.reconcile
            or self.nodes
        )

    def extend(self, other: Actions) -> Actions:
        self.records += other.records
        self.decline += other.decline
        self.decline_unneeded += other.decline_unneeded
        self.launch += other.launch
        self.accept += other.accept
        self.acknowledge += other.acknowledge
        self.kill += other.kill
        self.reconcile += other.reconcile
        self.nodes += other.nodes
        return self

    def __str__(self) -> str:
        tasks = sum(len(launch.tasks) for launch in self.launch)
        return (
            f"launch {tasks} tasks on {len(self.launch)} agents, accept {len(self.accept)}, "
            f"decline {len(self.decline) + len(self.decline_unneeded)} offers, kill {len(self.kill)}, acknowledge {len(self.acknowledge)}, "
            f"reconcile {len(self.reconcile)}, write {len(self.records)} records and {len(self.nodes)} nodes"
        )
