"""Resource arithmetic of one agent: scalars (cpus, mem, disk, gpus) and port ranges.

The simulator only deals in unreserved ("*") resources, so a resource vector is
four numbers plus a normalised tuple of port ranges. Values are rounded to three
decimals after every operation because Mesos stores scalars in fixed point with
three decimals; without it 0.1 + 0.2 would not fit into an offer of 0.3.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable

SCALARS = ("cpus", "mem", "disk", "gpus")
Ranges = tuple[tuple[int, int], ...]

# The allocator's default --min_allocatable_resources ("cpus:0.01|mem:32"):
# an agent with less than this free is not offered.
MIN_CPUS = 0.01
MIN_MEM = 32.0


def _fix(value: float) -> float:
    return round(value, 3) + 0.0  # "+ 0.0" turns -0.0 into 0.0


def normalize_ranges(ranges: Iterable[tuple[int, int]]) -> Ranges:
    """Sort and merge overlapping or adjacent ranges."""
    if not isinstance(ranges, (list, tuple)):
        ranges = list(ranges)
    if len(ranges) <= 1:  # the common case: one agent-wide range
        return tuple((b, e) for b, e in ranges)
    out: list[list[int]] = []
    for begin, end in sorted(ranges):
        if out and begin <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([begin, end])
    return tuple((b, e) for b, e in out)


def subtract_ranges(a: Ranges, b: Ranges) -> Ranges:
    out = []
    for begin, end in a:
        pieces = [(begin, end)]
        for rb, re_ in b:
            next_pieces = []
            for pb, pe in pieces:
                if re_ < pb or rb > pe:
                    next_pieces.append((pb, pe))
                    continue
                if rb > pb:
                    next_pieces.append((pb, rb - 1))
                if re_ < pe:
                    next_pieces.append((re_ + 1, pe))
            pieces = next_pieces
        out.extend(pieces)
    return normalize_ranges(out)


def ranges_contain(outer: Ranges, inner: Ranges) -> bool:
    return not subtract_ranges(inner, outer)


def format_ranges(ranges: Ranges) -> str:
    """Mesos' text form, as /master/slaves prints it: "[31000-31005, 31010-31010]"."""
    return "[" + ", ".join(f"{b}-{e}" for b, e in ranges) + "]"


def _num(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e15 else repr(value)


class Resources:
    """An immutable resource vector. Subtraction clamps at zero: never negative."""

    __slots__ = ("cpus", "mem", "disk", "gpus", "ports")

    def __init__(
        self,
        cpus: float = 0.0,
        mem: float = 0.0,
        disk: float = 0.0,
        gpus: float = 0.0,
        ports: Iterable[tuple[int, int]] = (),
    ) -> None:
        self.cpus = _fix(cpus)
        self.mem = _fix(mem)
        self.disk = _fix(disk)
        self.gpus = _fix(gpus)
        self.ports: Ranges = normalize_ranges(ports)

    @classmethod
    def from_model(cls, data: dict) -> Resources:
        """From control-API JSON like {"cpus": 2, "mem": 512, "ports": "[31000-31010]"}."""
        from scheduler.sim.options import parse_port_ranges

        unknown = set(data) - set(SCALARS) - {"ports"}
        if unknown:
            raise ValueError(f"unknown resource(s): {', '.join(sorted(unknown))}")
        values = {}
        for name in SCALARS:
            raw = data.get(name, 0.0)
            if isinstance(raw, bool) or not isinstance(raw, (int, float)):
                raise ValueError(f"{name} must be a number")
            if not math.isfinite(raw) or raw < 0:
                raise ValueError(f"{name} must be a finite number >= 0")
            values[name] = float(raw)
        ports = data.get("ports", "")
        if not isinstance(ports, str):
            raise ValueError('ports must be a string such as "31000-31010"')
        return cls(ports=parse_port_ranges(ports) if ports else (), **values)

    def __add__(self, other: Resources) -> Resources:
        # Fast paths matter: allocation over 10,000 agents adds mostly nothing.
        if other.is_empty():
            return self
        if self.is_empty():
            return other
        return Resources(
            self.cpus + other.cpus,
            self.mem + other.mem,
            self.disk + other.disk,
            self.gpus + other.gpus,
            self.ports + other.ports,
        )

    def __sub__(self, other: Resources) -> Resources:
        if other.is_empty():
            return self
        return Resources(
            max(0.0, self.cpus - other.cpus),
            max(0.0, self.mem - other.mem),
            max(0.0, self.disk - other.disk),
            max(0.0, self.gpus - other.gpus),
            subtract_ranges(self.ports, other.ports) if other.ports else self.ports,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Resources):
            return NotImplemented
        return (
            self.cpus == other.cpus
            and self.mem == other.mem
            and self.disk == other.disk
            and self.gpus == other.gpus
            and self.ports == other.ports
        )

    def __hash__(self) -> int:
        return hash((self.cpus, self.mem, self.disk, self.gpus, self.ports))

    def contains(self, other: Resources) -> bool:
        return (
            self.cpus >= other.cpus
            and self.mem >= other.mem
            and self.disk >= other.disk
            and self.gpus >= other.gpus
            and (not other.ports or ranges_contain(self.ports, other.ports))
        )

    def is_empty(self) -> bool:
        return not (self.cpus or self.mem or self.disk or self.gpus or self.ports)

    def allocatable(self) -> bool:
        return self.cpus >= MIN_CPUS or self.mem >= MIN_MEM

    def port_count(self) -> int:
        return sum(e - b + 1 for b, e in self.ports)

    def to_model(self) -> dict:
        """The /master/slaves form: cpus, gpus, mem, disk always; ports when any. Shared between
        equal resources (10,000 alike agents): for serializing, not to be changed."""
        return _model(self)

    def to_protobuf_list(self, allocation_role: str | None = None) -> list[dict]:
        """The v1 `Resource` JSON list as found in offers (role "*", unreserved). Shared between
        equal resources (every allocation offers 10,000 alike agents): for serializing, not to be changed."""
        return _protobuf_list(self, allocation_role)

    def _to_model(self) -> dict:
        out: dict = {"cpus": self.cpus, "disk": self.disk, "gpus": self.gpus, "mem": self.mem}
        if self.ports:
            out["ports"] = format_ranges(self.ports)
        return out

    def _to_protobuf_list(self, allocation_role: str | None) -> list[dict]:
        out = []
        for name in ("cpus", "mem", "disk", "gpus"):
            value = getattr(self, name)
            if value > 0:
                out.append({"name": name, "type": "SCALAR", "scalar": {"value": value}, "role": "*"})
        if self.ports:
            out.append(
                {
                    "name": "ports",
                    "type": "RANGES",
                    "ranges": {"range": [{"begin": b, "end": e} for b, e in self.ports]},
                    "role": "*",
                }
            )
        if allocation_role is not None:
            for item in out:
                item["allocation_info"] = {"role": allocation_role}
        return out

    def describe(self, allocation_role: str | None = None) -> str:
        """Mesos' stringify(Resources): "cpus(allocated: *):1; mem(allocated: *):128"."""
        tag = f"(allocated: {allocation_role})" if allocation_role is not None else ""
        parts = []
        for name in ("cpus", "mem", "disk", "gpus"):
            value = getattr(self, name)
            if value > 0:
                parts.append(f"{name}{tag}:{_num(value)}")
        if self.ports:
            parts.append(f"ports{tag}:{format_ranges(self.ports)}")
        return "; ".join(parts)

    def __repr__(self) -> str:
        return f"Resources({self.describe() or 'empty'})"


EMPTY = Resources()


class ResourceProblem(Exception):
    """A `Resource` the master's resource::validate() would reject."""


def from_protobuf_list(items: list[dict]) -> tuple[Resources, list[str]]:
    """Convert schema-validated `Resource` dicts into a vector.

    Returns the vector plus descriptions of resources this simulated cluster can
    never offer (reserved roles, unknown names, SET resources...). Those make a
    task ask for "more than available", which is how a real master treats them.
    Raises ResourceProblem for resources that are invalid in themselves.
    """
    scalars = dict.fromkeys(SCALARS, 0.0)
    ports: list[tuple[int, int]] = []
    foreign: list[str] = []
    for item in items:
        name = item["name"]
        kind = item["type"]
        if not name:
            raise ResourceProblem("Empty resource name")
        if kind == "SCALAR":
            if "scalar" not in item or "ranges" in item or "set" in item:
                raise ResourceProblem(f"Invalid scalar resource {name}")
            value = item["scalar"]["value"]
            if math.isnan(value) or math.isinf(value) or value < 0:
                raise ResourceProblem(f"Invalid scalar resource {name}: {value}")
        elif kind == "RANGES":
            if "ranges" not in item or "scalar" in item or "set" in item:
                raise ResourceProblem(f"Invalid ranges resource {name}")
            for r in item["ranges"].get("range", []):
                if r["begin"] > r["end"]:
                    raise ResourceProblem(
                        f"Invalid ranges resource {name}: [{r['begin']}-{r['end']}] is not a valid range"
                    )
        elif kind == "SET":
            if "set" not in item or "scalar" in item or "ranges" in item:
                raise ResourceProblem(f"Invalid set resource {name}")
        else:  # TEXT is not a resource type
            raise ResourceProblem(f"Unsupported resource type {kind} for {name}")

        reserved = item.get("role", "*") != "*" or item.get("reservations") or item.get("reservation")
        special = any(key in item for key in ("disk", "revocable", "shared", "provider_id"))
        if reserved or special:
            foreign.append(f"{name}(reserved or special)")
            continue
        if kind == "SCALAR" and name in scalars:
            scalars[name] += item["scalar"]["value"]
        elif kind == "RANGES" and name == "ports":
            ports.extend((r["begin"], r["end"]) for r in item["ranges"].get("range", []))
        else:
            foreign.append(name)
    return Resources(ports=ports, **scalars), foreign


@functools.lru_cache(maxsize=4096)
def _model(resources: Resources) -> dict:
    return resources._to_model()


@functools.lru_cache(maxsize=4096)
def _protobuf_list(resources: Resources, allocation_role: str | None) -> list[dict]:
    return resources._to_protobuf_list(allocation_role)
