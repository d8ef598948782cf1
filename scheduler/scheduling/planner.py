"""The offers of one cycle as per-agent capacity, and the tasks placed on them.

Placement is first fit over the agents in a rotating order (next fit), so a queue of similar jobs
costs about one look per job rather than one per agent.

GPU agents are kept for GPU work: a task that needs no GPU goes to an agent without GPUs while any
has room, and onto a GPU agent only when none has and the caller allows it (see ``first_fit``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scheduler.nodes.node import Node
from scheduler.offers.offer import Offer, Resource
from scheduler.tasks.spec import ResourceClaim, TaskSpec

EPSILON = 1e-9


@dataclass(slots=True)
class TaskDemand:
    """A task that wants to run: what it needs and how to start it."""

    task_id: str
    name: str
    resources: dict[str, float]
    command: str
    image: str | None = None
    labels: dict[str, str] | None = None
    environment: dict[str, str] | None = None


@dataclass(slots=True)
class AgentCapacity:
    agent_id: str
    node: Node
    offers: list[Offer]
    remaining: dict[str, float]
    like: dict[str, Resource]  # an offered resource per name, whose role fields a task's resource copies
    tasks: list[TaskSpec] = field(default_factory=list)

    @property
    def has_gpus(self) -> bool:
        """A GPU agent: GPUs offered now, or in the agent's total as the master reports it (all of
        them may be in use, and the agent is still one to keep for GPU work)."""
        total = self.node.resources.total
        return self.remaining.get("gpus", 0.0) > EPSILON or bool(total and total.get("gpus", 0) > 0)

    def fits(self, needs: dict[str, float]) -> bool:
        return all(self.remaining.get(name, 0.0) + EPSILON >= amount for name, amount in needs.items())

    def take(self, demand: TaskDemand) -> TaskSpec:
        for name, amount in demand.resources.items():
            self.remaining[name] = self.remaining.get(name, 0.0) - amount
        spec = TaskSpec(
            task_id=demand.task_id,
            name=demand.name,
            agent_id=self.agent_id,
            resources=tuple(ResourceClaim(n, amount, self.like.get(n)) for n, amount in demand.resources.items()),
            command=demand.command,
            image=demand.image,
            environment=demand.environment,
            labels=demand.labels,
        )
        self.tasks.append(spec)
        return spec


def usable(resource: Resource, role: str) -> bool:
    """A plain scalar of the accepted role: not revocable, not a persistent or mount disk.

    Tasks take each resource in one piece shaped like the first usable one offered, so resources of
    other roles or sources are left out rather than mixed in (the master would refuse the launch).
    """
    raw = resource.raw
    return resource.type == "SCALAR" and resource.role == role and "revocable" not in raw and "disk" not in raw


def capacity_of(agent_id: str, node: Node, offers: list[Offer], role: str = "*") -> AgentCapacity:
    remaining: dict[str, float] = {}
    like: dict[str, Resource] = {}
    for offer in offers:
        for resource in offer.resources:
            if usable(resource, role):
                remaining[resource.name] = remaining.get(resource.name, 0.0) + resource.scalar
                like.setdefault(resource.name, resource)
    return AgentCapacity(agent_id, node, offers, remaining, like)


def needs_gpus(needs: dict[str, float]) -> bool:
    return needs.get("gpus", 0.0) > EPSILON


class _Rotation:
    """Agents searched round robin from where the last placement was (next fit)."""

    def __init__(self, capacities: list[AgentCapacity]) -> None:
        self.capacities = capacities
        self.cursor = 0

    def first_fit(self, needs: dict[str, float], eligible) -> AgentCapacity | None:
        count = len(self.capacities)
        for step in range(count):
            index = (self.cursor + step) % count
            capacity = self.capacities[index]
            if eligible(capacity.node) and capacity.fits(needs):
                self.cursor = index
                return capacity
        return None


class OfferPool:
    def __init__(self, capacities: list[AgentCapacity]) -> None:
        self.capacities = capacities
        self.by_agent = {c.agent_id: c for c in capacities}
        self._plain = _Rotation([c for c in capacities if not c.has_gpus])
        self._gpu = _Rotation([c for c in capacities if c.has_gpus])

    def first_fit(self, needs: dict[str, float], eligible, *, gpu_agents: bool = True) -> AgentCapacity | None:
        """The next eligible agent with room. A task that needs GPUs looks at GPU agents only; one
        that needs none looks at agents without GPUs first, and at GPU agents only if none has room
        and ``gpu_agents`` allows it (the caller forbids it while GPU work waits for them)."""
        if needs_gpus(needs):
            return self._gpu.first_fit(needs, eligible)
        capacity = self._plain.first_fit(needs, eligible)
        if capacity is None and gpu_agents:
            capacity = self._gpu.first_fit(needs, eligible)
        return capacity

    def any_fits(self, needs: dict[str, float], eligible) -> bool:
        """Whether an eligible agent has room (the rotation is left where it is)."""
        return any(eligible(c.node) and c.fits(needs) for c in self.capacities)

    def used(self) -> list[AgentCapacity]:
        return [c for c in self.capacities if c.tasks]

    def unused(self) -> list[AgentCapacity]:
        return [c for c in self.capacities if not c.tasks]
