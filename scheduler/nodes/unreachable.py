"""Nodes whose agent the master cannot reach: our tasks on it are TASK_UNREACHABLE (and kept).

The node shows the ``AGENT_UNREACHABLE`` error while any of our tasks on it is unreachable; the
master's FAILURE for the agent takes the node OFFLINE as well (see ``NodeRegistry``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from scheduler.nodes.conditions import AGENT_UNREACHABLE
from scheduler.nodes.registry import NodeRegistry

log = logging.getLogger(__name__)


def mark_unreachable_agents(
    nodes: NodeRegistry, unreachable: Mapping[str, int], now: float, marked: set[str]
) -> set[str]:
    """``unreachable``: agent id -> how many of our tasks on it are unreachable; ``marked``: the
    hostnames given the error before. Returns those that have it now (only they are visited)."""
    now_marked = set()
    for agent_id, count in unreachable.items():
        node = nodes.for_agent(agent_id)
        if node is None:
            continue
        now_marked.add(node.hostname)
        description = f"{AGENT_UNREACHABLE.description} Unreachable tasks: {count}."
        current = node.conditions.errors.get(AGENT_UNREACHABLE.name)
        if current is None or current.description != description:
            node.conditions.raise_error(AGENT_UNREACHABLE, now, description)
    for hostname in marked - now_marked:
        node = nodes.get(hostname)
        if node is not None and node.conditions.clear_errors(AGENT_UNREACHABLE):
            log.info("Node %s: no task of ours on it is unreachable any more", hostname)
    return now_marked
