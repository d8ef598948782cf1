"""Assembling the v6 status document from the core's state (no I/O; the caller serializes).

Sections owned by parts not built yet are left out rather than filled with invented values.
Key order follows the seed document so a diff against Scale's output reads naturally.
"""

from __future__ import annotations

from typing import Any

from scheduler.core.scheduler_core import SchedulerCore
from scheduler.core.scheduler_state import PAUSED, READY
from scheduler.nodes.node import Node
from scheduler.resources.accounting import Breakdown, cluster_breakdown
from scheduler.timefmt import iso

JSON = dict[str, Any]


def scheduler_section(core: SchedulerCore, now: float) -> JSON:
    return {
        "metrics": core.metrics.rates(now),
        "hostname": core.hostname,
        "mesos": {"framework_id": core.framework_id},
        "state": PAUSED if core.paused else READY,
        "warnings": core.warnings.active(now),
    }


def node_breakdown(core: SchedulerCore, node: Node) -> dict[str, Breakdown]:
    running = core.tasks.running_by_agent.get(node.agent_id, {}) if node.agent_id else {}
    offered = core.offers.offered_cents(node.agent_id) if node.agent_id else {}
    return node.resources.breakdown(running, offered, online=node.online)


def node_entry(core: SchedulerCore, node: Node, breakdown: dict[str, Breakdown]) -> JSON:
    return {
        "id": node.id,
        "hostname": node.hostname,
        "agent_id": node.agent_id,
        "is_active": node.is_active,
        "state": node.state(core.paused).as_json(),
        "errors": [e.as_json() for e in node.conditions.errors.values()],
        "warnings": [w.as_json() for w in node.conditions.warnings.values()],
        "num_offers": core.offers.count_for_agent(node.agent_id) if node.agent_id else 0,
        "resources": {name: part.as_json() for name, part in breakdown.items()},
    }


def build_status(core: SchedulerCore, now: float) -> JSON:
    nodes, active_breakdowns, num_offers = [], [], 0
    for node in core.nodes:
        if node.id is None:
            continue  # listed once its database row exists (within a second), so its id is stable
        breakdown = node_breakdown(core, node)
        entry = node_entry(core, node, breakdown)
        if node.is_active:
            # Deprecated nodes keep their own figures but leave the cluster's (as in Scale).
            active_breakdowns.append(breakdown)
            num_offers += entry["num_offers"]
        nodes.append(entry)
    return {
        "timestamp": iso(now),
        "scheduler": scheduler_section(core, now),
        "num_offers": num_offers,
        "resources": {name: part.as_json() for name, part in cluster_breakdown(active_breakdowns).items()},
        "nodes": nodes,
    }
