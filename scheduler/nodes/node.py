"""One node: an agent hostname, its agent id, whether it is online, and its conditions."""

from __future__ import annotations

from functools import partial

from scheduler.change_log import ChangeLog
from scheduler.nodes import states
from scheduler.nodes.conditions import Conditions
from scheduler.nodes.states import NodeState
from scheduler.resources.accounting import NodeResources

# The fields a node's status entry shows (with its conditions and resources, which note their own).
_SHOWN = frozenset({"id", "agent_id", "is_active", "is_paused", "online", "initial_cleanup_done"})


class Node:
    __slots__ = (
        "hostname",
        "id",
        "agent_id",
        "is_active",
        "is_paused",
        "online",
        "offline_since",
        "offline_reason",
        "last_offer_at",
        "absent_polls",
        "initial_cleanup_done",
        "resources",
        "conditions",
        "_changes",
    )

    def __init__(
        self,
        hostname: str,
        now: float,
        *,
        node_id: int | None = None,
        agent_id: str = "",
        is_active: bool = True,
        is_paused: bool = False,
        changes: ChangeLog | None = None,
    ) -> None:
        # Every change to what the node's status entry shows is noted here (the registry's log).
        object.__setattr__(self, "_changes", changes if changes is not None else ChangeLog())
        self.hostname = hostname
        self.id = node_id  # database id; None until the row exists
        self.agent_id = agent_id
        self.is_active = is_active  # False once retired (DEPRECATED)
        self.is_paused = is_paused
        self.online = False
        self.offline_since: float | None = now
        self.offline_reason = "no agent has registered from this host yet"
        self.last_offer_at: float | None = None
        self.absent_polls = 0  # consecutive master listings without this node's agent
        self.initial_cleanup_done = False  # until the node's first cleanup task succeeds
        touched = partial(self._changes.touch, hostname)
        self.resources = NodeResources(on_change=touched)
        self.conditions = Conditions(on_change=touched)

    def __setattr__(self, name: str, value) -> None:
        object.__setattr__(self, name, value)
        if name in _SHOWN:
            self._changes.touch(self.hostname)

    def state(self, scheduler_paused: bool) -> NodeState:
        if not self.is_active:
            return states.DEPRECATED
        if not self.online:
            return states.OFFLINE
        if self.is_paused:
            return states.PAUSED
        if scheduler_paused:
            return states.SCHEDULER_STOPPED
        if self.conditions.errors:
            return states.DEGRADED
        if not self.initial_cleanup_done:
            return states.INITIAL_CLEANUP
        return states.READY

    def __repr__(self) -> str:
        return f"Node({self.hostname!r}, id={self.id}, agent={self.agent_id!r}, online={self.online})"
