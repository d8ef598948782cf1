"""Assembling the v6 status document from the core's state, as bytes.

A node's entry is serialized once and reused for as long as nothing it shows has changed, in four
parts (head, task counts, offers and resources, execution counts) each serialized again only when
its own inputs change; the cluster's resource sums are kept up to date by difference; and a build
looks only at the nodes the core's change logs name. A snapshot of 10,000 nodes therefore costs what
changed since the last one and one join of cached bytes.

Sections owned by parts not built yet are left out rather than filled with invented values. Key
order follows the seed document, ``nodes`` last, so the document can be spliced together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from scheduler.core.state import CoreState
from scheduler.core.warnings import PAUSED, READY, stale_node_warning
from scheduler.nodes.node import Node
from scheduler.resources.accounting import CORE_RESOURCES, Breakdown, Cents
from scheduler.scheduling import node_tasks, system_tasks
from scheduler.tasks.registry import TaskKind
from scheduler.timefmt import iso

JSON = dict[str, Any]
WARM_NODES_PER_STEP = 250  # about 16 ms of serializing on the reference machine
SLICE_ENTRIES_LEAST = 10  # a warm-up step's budget never makes a slice smaller than this
TOP_LEVEL_ORDER = (
    "timestamp",
    "last_updated",
    "dependencies",
    "scheduler",
    "system",
    "vault",
    "num_offers",
    "resources",
    "job_types",
)


def scheduler_section(core: CoreState, now: float) -> JSON:
    return {
        "metrics": core.metrics.rates(now),
        "hostname": core.hostname,
        "mesos": {"framework_id": core.framework_id},
        "state": PAUSED if core.paused else READY,
        "warnings": core.warnings.active(now),
    }


def node_breakdown(core: CoreState, node: Node, offered: Cents | None = None) -> dict[str, Breakdown]:
    running = core.tasks.running_by_agent.get(node.agent_id, {}) if node.agent_id else {}
    if offered is None:
        offered = core.offers.offered_cents(node.agent_id) if node.agent_id else {}
    return node.resources.breakdown(running, offered, online=node.online)


def _task_counts(core: CoreState, node: Node, kind: TaskKind, titles: dict[str, tuple[str, str]]) -> list[JSON]:
    counts = core.tasks.counts(node.agent_id, kind) if node.agent_id else {}
    return [
        {"type": task_type, "title": titles[task_type][0], "description": titles[task_type][1], "count": count}
        for task_type, count in sorted(counts.items())
        if task_type in titles
    ]


def _node_warnings(core: CoreState, node: Node) -> list[JSON]:
    warnings = [w.as_json() for w in node.conditions.warnings.values()]
    # Without the master, nothing the node shows can be confirmed; its state is kept (its tasks may
    # well still run, so OFFLINE would be as wrong as READY) and a warning says since when.
    if core.master.lost_at is not None:
        warnings.append(stale_node_warning(core.master.lost_at))
    return warnings


def node_head(core: CoreState, node: Node) -> JSON:
    """The part of a node's entry that its own fields, conditions and the scheduler's state decide."""
    return {
        "id": node.id,
        "hostname": node.hostname,
        "agent_id": node.agent_id,
        "is_active": node.is_active,
        "state": node.state(core.paused).as_json(),
        "errors": [e.as_json() for e in node.conditions.errors.values()],
        "warnings": _node_warnings(core, node),
    }


def node_task_counts(core: CoreState, node: Node) -> JSON:
    return {
        "node_tasks": _task_counts(core, node, TaskKind.NODE, node_tasks.TITLES),
        "system_tasks": _task_counts(core, node, TaskKind.SYSTEM, system_tasks.TITLES),
    }


def node_resources(num_offers: int, breakdown: dict[str, Breakdown]) -> JSON:
    return {"num_offers": num_offers, "resources": {name: part.as_json() for name, part in breakdown.items()}}


def system_section(core: CoreState) -> JSON:
    return {"database_update": core.db_update.status_json(), "services": [core.messaging.status_json()]}


def job_types_section(core: CoreState) -> list[JSON]:
    return [job_type.status_json() for _, job_type in sorted(core.job_types.items())]


def _inner(part: JSON) -> bytes:
    """A dict's members serialized, without the braces, to be spliced into a node's entry."""
    return orjson.dumps(part)[1:-1]


@dataclass(slots=True)
class _CachedNode:
    """A node's serialized entry in four parts, each with what it depends on, and the whole. A new
    one holds nothing (keys None), so every part is serialized by the same path as a change."""

    key: tuple | None = None  # the versions of everything the entry shows: an equal key means an identical entry
    head_key: tuple | None = None
    head: bytes = b""
    tasks_key: tuple | None = None  # the agent and the version of its tasks
    tasks: bytes = b""
    resources_key: tuple | None = None  # the offers' content (not their version), the tasks, the node's resources
    resources: bytes = b""
    # The resources' parts as (name, offered, running, free, unavailable, total), for the cluster sums:
    # tuples of numbers, which the garbage collector stops tracking, where Breakdown objects kept here
    # (a dict and four per node, replaced at every change) were a large share of what it walked.
    parts: tuple[tuple[str, int, int, int, int, int], ...] = ()
    num_offers: int = 0
    exe_key: tuple | None = None  # the node id and the version of its execution counts
    exe: bytes = b""
    counted: bool = False  # part of the cluster sums (active nodes only, as in Scale)
    fragment: bytes = b""


class StatusBuilder:
    """Builds status documents; keeps serialized node entries and cluster sums between builds.

    Which nodes to look at comes from the core's change logs (``scheduler.change_log``): the nodes'
    own (fields, conditions, resources), and those of tasks and offers (by agent) and of execution
    counts (by node id). A build looks only at the nodes noted since the last one, so a snapshot of
    10,000 nodes costs what changed, not a walk of all of them; everything is looked at again when
    something every node shows changes (the scheduler paused, the master lost).

    A node's entry is checked by a key of versions; when the key differs, only the parts whose own
    inputs changed are serialized again. During a burst a node changes mostly by its offers and
    tasks, so its head (state, errors, warnings) and its execution counts are usually reused.
    Offers come and go within a cycle, so a changed offer version is checked against their content:
    a node whose offer arrived and was declined between two snapshots keeps its resources part.
    """

    def __init__(self) -> None:
        self._nodes: dict[str, _CachedNode] = {}  # by hostname
        self._hostname_by_id: dict[int, str] = {}
        self._position: dict[str, int] = {}  # hostname -> index in _fragments (registry order)
        self._fragments: list[bytes] = []
        self._order_stale = True  # a node was listed (got its id) since the order was made
        self._seen: tuple | None = None  # what every node shows and the logs' stamps, as last looked at
        self._left: set[str] = set()  # hostnames a bounded build did not get to: first in the next look
        self._cluster: dict[str, Breakdown] = {name: Breakdown() for name in CORE_RESOURCES}
        self._num_offers = 0
        self.serialized = 0  # node entries serialized (in part) since the builder was made
        self.slice_entries = WARM_NODES_PER_STEP  # entries a warm-up step holds (see ``warm``)
        self.looked_at = 0  # node entries checked since the builder was made

    def _apply(self, counted: bool, num_offers: int, parts: tuple, sign: int) -> None:
        if not counted:
            return
        self._num_offers += sign * num_offers
        for name, offered, running, free, unavailable, whole in parts:
            total = self._cluster.setdefault(name, Breakdown())
            total.offered += sign * offered
            total.running += sign * running
            total.free += sign * free
            total.unavailable += sign * unavailable
            total.total += sign * whole

    @staticmethod
    def _stamps(core: CoreState) -> tuple:
        return (
            (core.paused, core.master.lost_at),  # what every node's head shows from outside the node
            core.nodes.changes.stamp,
            core.tasks.changes.stamp,
            core.offers.changes.stamp,
            core.exe_metrics.changes.stamp,
        )

    def _to_look_at(self, core: CoreState, stamps: tuple) -> list[Node]:
        """The listed nodes that may have changed since the last look (all of them the first time)."""
        seen = self._seen
        if seen is None or seen[0] != stamps[0]:
            self._left.clear()
            return [node for node in core.nodes if node.id is not None]
        hostnames = set(self._left)  # each leaves it once brought up to date (``_refresh``)
        hostnames.update(core.nodes.changes.since(seen[1]))
        for agent_id in core.tasks.changes.since(seen[2]) + core.offers.changes.since(seen[3]):
            node = core.nodes.for_agent(agent_id)
            if node is not None:
                hostnames.add(node.hostname)
        for node_id in core.exe_metrics.changes.since(seen[4]):
            hostname = self._hostname_by_id.get(node_id)
            if hostname is not None:
                hostnames.add(hostname)
        nodes = (core.nodes.get(hostname) for hostname in hostnames)
        return [node for node in nodes if node is not None and node.id is not None]

    def _refresh(self, core: CoreState, node: Node) -> None:
        """Bring the node's cached entry up to date (``serialized`` counts those that were not)."""
        self.looked_at += 1
        self._left.discard(node.hostname)
        agent_id = node.agent_id
        tasks_key = (agent_id, core.tasks.changes.version(agent_id))
        exe_key = (node.id, core.exe_metrics.changes.version(node.id))
        head_key = (
            core.paused,
            core.master.lost_at,
            node.id,
            agent_id,
            node.is_active,
            node.online,
            node.is_paused,
            node.initial_cleanup_done,
            node.conditions.version,
        )
        key = (head_key, node.resources.version, tasks_key, core.offers.changes.version(agent_id), exe_key)
        cached = self._nodes.get(node.hostname)
        if cached is not None and cached.key == key:
            return
        offered = core.offers.offered_cents(agent_id) if agent_id else {}
        num_offers = core.offers.count_for_agent(agent_id) if agent_id else 0
        resources_key = (num_offers, tuple(offered.items()), node.resources.version, tasks_key, node.online)
        if cached is None:
            cached = self._nodes[node.hostname] = _CachedNode()
        cached.key = key
        changed = False
        if cached.head_key != head_key:
            cached.head_key, cached.head = head_key, _inner(node_head(core, node))
            changed = True
        if cached.tasks_key != tasks_key:
            cached.tasks_key, cached.tasks = tasks_key, _inner(node_task_counts(core, node))
            changed = True
        if cached.resources_key != resources_key or cached.counted != node.is_active:
            self._apply(cached.counted, cached.num_offers, cached.parts, -1)
            breakdown = node_breakdown(core, node, offered)
            cached.parts = tuple(
                (name, p.offered, p.running, p.free, p.unavailable, p.total) for name, p in breakdown.items()
            )
            cached.resources_key, cached.num_offers = resources_key, num_offers
            cached.resources = _inner(node_resources(num_offers, breakdown))
            cached.counted = node.is_active
            self._apply(cached.counted, num_offers, cached.parts, +1)
            changed = True
        if cached.exe_key != exe_key:
            cached.exe_key = exe_key
            cached.exe = _inner({"job_executions": core.exe_metrics.node_json(node.id)})
            changed = True
        if not changed:
            return
        cached.fragment = b"{" + cached.head + b"," + cached.tasks + b"," + cached.resources + b"," + cached.exe + b"}"
        self.serialized += 1
        self._hostname_by_id[node.id] = node.hostname
        position = self._position.get(node.hostname)
        if position is None:
            self._order_stale = True
        else:
            self._fragments[position] = cached.fragment

    def warm(
        self,
        core: CoreState,
        per_step: int = WARM_NODES_PER_STEP,
        budget_s: float | None = None,
        clock: Callable[[], float] | None = None,
    ) -> Iterator[None]:
        """Serialize node entries that are missing or stale, pausing after every ``per_step``, or
        once a step has taken ``budget_s`` by ``clock`` (the caller's: this package reads no clock).

        The caller runs a step per turn of the event loop, so the cold build (every entry, 0.65 s
        at 10,000 nodes) never holds the loop for long. Only the cache is filled: ``build`` looks
        again at what changed since this began, so the document shows the core as it is at build
        time. A step cut short by its budget sets ``slice_entries``, what a step holds on this
        machine (250 entries took 16 ms on one 2-core VM and about 75 ms on a slower one).
        """
        stamps = self._stamps(core)
        step_ends = self.serialized + per_step
        if budget_s is None or clock is None:
            budget_s, clock = None, lambda: 0.0
        step_began, step_first = clock(), self.serialized
        for node in self._to_look_at(core, stamps):
            self._refresh(core, node)
            if self.serialized >= step_ends:
                self.slice_entries = per_step  # a whole step fitted
            elif budget_s is None or self.serialized == step_first or clock() - step_began < budget_s:
                continue
            else:
                self.slice_entries = max(SLICE_ENTRIES_LEAST, self.serialized - step_first)
            yield
            step_ends = self.serialized + per_step
            step_began, step_first = clock(), self.serialized
        self._seen = stamps  # only once every node it listed was looked at: what changed since, build sees

    def build(self, core: CoreState, now: float, sections: JSON | None = None, most: int | None = None) -> bytes:
        """The whole document as JSON bytes; ``sections`` adds top-level parts owned elsewhere.

        With ``most``, at most that many changed node entries are brought up to date in this (last,
        unbroken) step; the others keep the entry of the look before and are the first looked at by
        the next ``warm``: during a burst every node changes while the warm-up's slices run, and
        catching up with all of them here made this step 100 ms and more. Such an entry is at most
        one snapshot behind, and the cluster sums are always those of the entries shown.
        """
        stamps = self._stamps(core)
        nodes = self._to_look_at(core, stamps)
        if most is not None and len(nodes) > most:
            # A node never serialized has no earlier entry to show: it is always done now.
            cached = self._nodes
            new = [node for node in nodes if node.hostname not in cached]
            old = [node for node in nodes if node.hostname in cached]
            room = max(most - len(new), 0)
            self._left.update(node.hostname for node in old[room:])
            nodes = new + old[:room]
        for node in nodes:
            self._refresh(core, node)
        self._seen = stamps
        if self._order_stale:
            # Listed once its database row exists (within a second), so a node's id is stable.
            order = [node.hostname for node in core.nodes if node.id is not None]
            self._position = {hostname: index for index, hostname in enumerate(order)}
            self._fragments = [self._nodes[hostname].fragment for hostname in order]
            self._order_stale = False
        parts = {
            **(sections or {}),
            "timestamp": iso(now),
            "scheduler": scheduler_section(core, now),
            "system": system_section(core),
            "num_offers": self._num_offers,
            "resources": {name: part.as_json() for name, part in self._cluster.items()},
            "job_types": job_types_section(core),
        }
        head = {key: parts[key] for key in TOP_LEVEL_ORDER if key in parts}
        # One join, so the 9 MB of nodes are copied once: the head goes before the first fragment.
        opening = orjson.dumps(head)[:-1] + b',"nodes":['
        fragments = list(self._fragments)
        if not fragments:
            return opening + b"]}"
        fragments[0] = opening + fragments[0]
        fragments[-1] = fragments[-1] + b"]}"
        return b",".join(fragments)


def build_status(core: CoreState, now: float) -> JSON:
    """The document as a dict (for tests and tools); the daemon keeps one StatusBuilder instead."""
    return orjson.loads(StatusBuilder().build(core, now))
