"""One offer and its resources, as plain values (``scheduler.mesos.events`` parses them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Resource:
    """One resource of an offer. ``raw`` is kept to echo role and reservation fields back on launch."""

    name: str
    type: str  # SCALAR, RANGES, SET or TEXT
    scalar: float = 0.0
    ranges: tuple[tuple[int, int], ...] = ()
    items: tuple[str, ...] = ()
    role: str = "*"  # reservation role; "*" is unreserved
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Offer:
    id: str
    agent_id: str
    hostname: str
    resources: tuple[Resource, ...]
    framework_id: str = ""
    allocation_role: str | None = None  # allocation_info.role, present for MULTI_ROLE frameworks
    attributes: dict[str, Any] = field(default_factory=dict, compare=False)

    def scalar(self, name: str) -> float:
        return sum(r.scalar for r in self.resources if r.name == name and r.type == "SCALAR")
