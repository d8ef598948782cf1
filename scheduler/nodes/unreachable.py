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


def mark_unreachable_agents(nodes: NodeRegistry, unreachable: Mapping[str, int], now: float) -> None:
    """``unreachable``: agent id -> how many of our tasks on it are unreachable."""
    for node in nodes:
        count = unreachable.get(node.agent_id, 0) if node.agent_id else 0
        current = node.conditions.errors.get(AGENT_UNREACHABLE.name)
        if not count:
            if current is not None:
                node.conditions.clear_errors(AGENT_UNREACHABLE)
                log.info("Node %s: no task of ours on it is unreachable any more", node.hostname)
            continue
        description = f"{AGENT_UNREACHABLE.description} Unreachable tasks: {count}."
        if current is None or current.description != description:
            node.conditions.raise_error(AGENT_UNREACHABLE, now, description)
