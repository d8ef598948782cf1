"""One offer and its resources, as plain values (``scheduler.mesos.events`` parses them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

# The fields of an offered resource a launch echoes back (``calls.scalar_resource``) or that make it
# unusable (``planner.usable``): all of the offered JSON a Resource keeps.
ECHOED_FIELDS = ("role", "reservation", "reservations", "allocation_info", "disk", "revocable")
# Distinct echoes shared (see ``shared_echo``); past this, each resource keeps its own.
MAX_SHARED_ECHOES = 1024
_shared_echoes: dict[bytes, dict[str, Any]] = {}


def shared_echo(data: dict[str, Any]) -> dict[str, Any]:
    """The echoed fields of an offered resource, as one dict shared by every resource with the same
    ones. Thousands of offers a second carry the same few (``{"role": "*", "allocation_info": {...}}``):
    each resource kept the whole parsed JSON, three dicts, and the offers waiting in the book were a
    large part of what every young collection walked. Shared and never changed (a launch copies the
    values it echoes into its own resource)."""
    echo = {key: data[key] for key in ECHOED_FIELDS if key in data}
    try:
        key = orjson.dumps(echo, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # not JSON (a caller's own dict): kept as it is
        return echo
    shared = _shared_echoes.get(key)
    if shared is None:
        if len(_shared_echoes) >= MAX_SHARED_ECHOES:
            return echo  # a master with that many distinct reservations: no sharing, still correct
        _shared_echoes[key] = shared = echo
    return shared


@dataclass(frozen=True, slots=True)
class Resource:
    """One resource of an offer. ``raw`` holds the fields echoed back on launch (``shared_echo``)."""

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
