"""Resource arithmetic in hundredths, so that the v6 invariant holds exactly after rounding.

For every node and resource: offered + running + free + unavailable = total, each >= 0, shown with
two decimals. Totals and other frameworks' use come from the master's agent data; until the master
has told us about an agent, Scale's watermark (the highest offered + running seen lately) stands in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from scheduler.offers.offer import Resource

CORE_RESOURCES = ("cpus", "mem", "disk", "gpus")
WATERMARK_RESET_S = 300.0  # the watermark covers the last 5-10 minutes, as in Scale

Cents = dict[str, int]  # resource name -> amount in hundredths


def to_cents(amounts: Mapping[str, float]) -> Cents:
    return {name: int(round(value * 100)) for name, value in amounts.items() if value}


def add_cents(target: Cents, amounts: Mapping[str, int], sign: int = 1) -> None:
    for name, value in amounts.items():
        updated = target.get(name, 0) + sign * value
        if updated:
            target[name] = updated
        else:
            target.pop(name, None)


def scalar_cents(resources: Iterable[Resource]) -> Cents:
    """The scalar resources of an offer or a task, summed per name."""
    cents: Cents = {}
    for resource in resources:
        if resource.type == "SCALAR" and resource.scalar > 0:
            cents[resource.name] = cents.get(resource.name, 0) + int(round(resource.scalar * 100))
    return cents


@dataclass(slots=True)
class Breakdown:
    """One resource of one node, in hundredths."""

    offered: int = 0
    running: int = 0
    free: int = 0
    unavailable: int = 0
    total: int = 0

    def add(self, other: Breakdown) -> None:
        self.offered += other.offered
        self.running += other.running
        self.free += other.free
        self.unavailable += other.unavailable
        self.total += other.total

    def as_json(self) -> dict[str, float]:
        return {
            "offered": self.offered / 100,
            "total": self.total / 100,
            "running": self.running / 100,
            "free": self.free / 100,
            "unavailable": self.unavailable / 100,
        }


def split(total: int, running: int, offered: int, unavailable: int) -> Breakdown:
    """Fit the parts into the total in order of certainty: ours running, ours offered, others' use."""
    total = max(total, 0)
    running = min(max(running, 0), total)
    offered = min(max(offered, 0), total - running)
    unavailable = min(max(unavailable, 0), total - running - offered)
    return Breakdown(offered, running, total - running - offered - unavailable, unavailable, total)


class NodeResources:
    """What is known of one agent's resources besides our own offers and tasks."""

    __slots__ = (
        "total",
        "others",
        "version",
        "_names",
        "_watermark",
        "_recent_watermark",
        "_watermark_reset_at",
        "_on_change",
    )

    def __init__(self, on_change: Callable[[], None] | None = None) -> None:
        self.version = 0  # bumped when anything shown changes
        self._on_change = on_change  # told of every such change (the node's change log)
        self._names: tuple[str, ...] = CORE_RESOURCES  # the names shown: the core four, then the master's others
        self.total: Cents | None = None  # from the master; None until it has reported the agent
        self.others: Cents = {}  # used by other frameworks or offered to them, per the master
        self._watermark: Cents = {}
        self._recent_watermark: Cents = {}
        self._watermark_reset_at: float | None = None

    def _changed(self) -> None:
        self.version += 1
        if self._on_change is not None:
            self._on_change()

    def update_from_master(self, total: Cents, used: Cents, our_running: Cents) -> None:
        """Take the master's view: what its ``used`` counts beyond our own tasks is someone else's.

        Resources the master has offered to anyone are not counted as unavailable: an offer to us
        may still be on its way (the listing and the event stream race), and one to another
        framework comes back when declined, which is what "free" means.
        """
        others: Cents = {}
        for name, value in used.items():
            theirs = value - our_running.get(name, 0)
            if theirs > 0:
                others[name] = theirs
        if total != self.total or others != self.others:
            self.total, self.others = dict(total), others
            self._names = CORE_RESOURCES + tuple(sorted(n for n in total if n not in CORE_RESOURCES))
            self._changed()

    def observe(self, running: Cents, offered: Cents, now: float) -> None:
        """Feed the watermark (only consulted while the master's totals are unknown)."""
        if self._watermark_reset_at is None or now - self._watermark_reset_at >= WATERMARK_RESET_S:
            self._watermark, self._recent_watermark = self._recent_watermark, {}
            self._watermark_reset_at = now
            self._changed()
        for name in set(running) | set(offered):
            seen = running.get(name, 0) + offered.get(name, 0)
            if seen > self._watermark.get(name, 0):
                self._watermark[name] = seen
                self._changed()
            if seen > self._recent_watermark.get(name, 0):
                self._recent_watermark[name] = seen

    def known_total(self) -> Cents:
        """The master's totals, or the watermark while it has not described the agent."""
        return self.total if self.total is not None else self._watermark

    def breakdown(self, running: Cents, offered: Cents, *, online: bool = True) -> dict[str, Breakdown]:
        """Per resource name; an offline node has nothing but the tasks still believed to run there."""
        names = self._names
        extra = [n for n in (*running, *offered) if n not in names]
        if extra:
            names = names + tuple(sorted(set(extra)))
        if not online:
            return {name: split(running.get(name, 0), running.get(name, 0), 0, 0) for name in names}
        total, others = self.total, self.others
        result = {}
        for name in names:
            ours_running, ours_offered = running.get(name, 0), offered.get(name, 0)
            if total is not None:
                result[name] = split(total.get(name, 0), ours_running, ours_offered, others.get(name, 0))
            else:
                seen = max(self._watermark.get(name, 0), ours_running + ours_offered)
                result[name] = split(seen, ours_running, ours_offered, 0)
        return result
