"""Assembling the v6 status document from the core's state, as bytes.

A node's entry is serialized once and reused for as long as nothing it shows has changed (its
signature: the node's own fields and the versions of its conditions, resources, offers and
tasks), and the cluster's resource sums are kept up to date by difference. A snapshot of 10,000
quiet nodes therefore costs a signature check per node and one join of cached bytes.

Sections owned by parts not built yet are left out rather than filled with invented values. Key
order follows the seed document, ``nodes`` last, so the document can be spliced together.
"""

from __future__ import annotations

from collections.abc import Iterator
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


def node_entry(core: CoreState, node: Node, breakdown: dict[str, Breakdown]) -> JSON:
    return {
        "id": node.id,
        "hostname": node.hostname,
        "agent_id": node.agent_id,
        "is_active": node.is_active,
        "state": node.state(core.paused).as_json(),
        "errors": [e.as_json() for e in node.conditions.errors.values()],
        "warnings": _node_warnings(core, node),
        "node_tasks": _task_counts(core, node, TaskKind.NODE, node_tasks.TITLES),
        "system_tasks": _task_counts(core, node, TaskKind.SYSTEM, system_tasks.TITLES),
        "num_offers": core.offers.count_for_agent(node.agent_id) if node.agent_id else 0,
        "resources": {name: part.as_json() for name, part in breakdown.items()},
        "job_executions": core.exe_metrics.node_json(node.id),
    }


def system_section(core: CoreState) -> JSON:
    return {"database_update": core.db_update.status_json(), "services": [core.messaging.status_json()]}


def job_types_section(core: CoreState) -> list[JSON]:
    return [job_type.status_json() for _, job_type in sorted(core.job_types.items())]


def _signature(core: CoreState, node: Node, offered: Cents) -> tuple:
    """Everything a node's entry depends on; equal signatures mean an identical entry.

    Offers come and go within a cycle, so their content (not a version) goes in: a node whose
    offer arrived and was declined between two snapshots keeps its cached entry.
    """
    agent_id = node.agent_id
    return (
        node.id,
        agent_id,
        node.is_active,
        node.online,
        node.is_paused,
        node.initial_cleanup_done,
        core.paused,
        core.master.lost_at,
        node.conditions.version,
        node.resources.version,
        core.offers.count_for_agent(agent_id),
        tuple(offered.items()),
        core.tasks.version_by_agent.get(agent_id, 0),
        core.exe_metrics.version_by_node.get(node.id, 0),
    )


@dataclass(slots=True)
class _CachedNode:
    signature: tuple
    fragment: bytes  # the node's serialized entry
    breakdown: dict[str, Breakdown]
    num_offers: int
    counted: bool  # part of the cluster sums (active nodes only, as in Scale)


class StatusBuilder:
    """Builds status documents; keeps serialized node entries and cluster sums between builds."""

    def __init__(self) -> None:
        self._nodes: dict[str, _CachedNode] = {}
        self._cluster: dict[str, Breakdown] = {name: Breakdown() for name in CORE_RESOURCES}
        self._num_offers = 0

    def _apply(self, cached: _CachedNode, sign: int) -> None:
        if not cached.counted:
            return
        self._num_offers += sign * cached.num_offers
        for name, part in cached.breakdown.items():
            total = self._cluster.setdefault(name, Breakdown())
            total.offered += sign * part.offered
            total.running += sign * part.running
            total.free += sign * part.free
            total.unavailable += sign * part.unavailable
            total.total += sign * part.total

    def _node_fragment(self, core: CoreState, node: Node) -> bytes:
        offered = core.offers.offered_cents(node.agent_id) if node.agent_id else {}
        signature = _signature(core, node, offered)
        cached = self._nodes.get(node.hostname)
        if cached is not None and cached.signature == signature:
            return cached.fragment
        breakdown = node_breakdown(core, node, offered)
        entry = node_entry(core, node, breakdown)
        fresh = _CachedNode(signature, orjson.dumps(entry), breakdown, entry["num_offers"], node.is_active)
        if cached is not None:
            self._apply(cached, -1)
        self._apply(fresh, +1)
        self._nodes[node.hostname] = fresh
        return fresh.fragment

    def warm(self, core: CoreState, per_step: int = WARM_NODES_PER_STEP) -> Iterator[None]:
        """Serialize node entries that are missing or stale, pausing after every ``per_step``.

        The caller runs a step per turn of the event loop, so the cold build (every entry, 0.65 s
        at 10,000 nodes) never holds the loop for long. Only the cache is filled: ``build`` checks
        every signature again, so what changed between steps is serialized then, and the document
        shows the core as it is at build time.
        """
        serialized = 0
        for node in list(core.nodes):  # the registry may change while the caller waits
            if node.id is None:
                continue
            before = self._nodes.get(node.hostname)
            self._node_fragment(core, node)
            if self._nodes.get(node.hostname) is not before:
                serialized += 1
                if serialized % per_step == 0:
                    yield

    def build(self, core: CoreState, now: float, sections: JSON | None = None) -> bytes:
        """The whole document as JSON bytes; ``sections`` adds top-level parts owned elsewhere."""
        # Listed once its database row exists (within a second), so a node's id is stable.
        fragments = [self._node_fragment(core, node) for node in core.nodes if node.id is not None]
        if len(fragments) != len(self._nodes):  # a node left the registry: its share leaves the sums
            listed = {node.hostname for node in core.nodes if node.id is not None}
            for hostname in [h for h in self._nodes if h not in listed]:
                self._apply(self._nodes.pop(hostname), -1)
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
        return orjson.dumps(head)[:-1] + b',"nodes":[' + b",".join(fragments) + b"]}"


def build_status(core: CoreState, now: float) -> JSON:
    """The document as a dict (for tests and tools); the daemon keeps one StatusBuilder instead."""
    return orjson.loads(StatusBuilder().build(core, now))
