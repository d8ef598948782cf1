"""A task to launch, as the core decides it: plain values; ``scheduler.mesos.calls`` makes the TaskInfo."""

from __future__ import annotations

from dataclasses import dataclass

from scheduler.offers.offer import Resource


@dataclass(frozen=True, slots=True)
class ResourceClaim:
    """An amount of one scalar resource, shaped like an offered one (its role and reservation)."""

    name: str
    amount: float
    like: Resource | None = None


@dataclass(frozen=True, slots=True)
class TaskSpec:
    task_id: str
    name: str
    agent_id: str
    resources: tuple[ResourceClaim, ...]
    command: str  # a shell command line
    image: str | None = None  # run in this Docker image when set
    environment: dict[str, str] | None = None
    labels: dict[str, str] | None = None
