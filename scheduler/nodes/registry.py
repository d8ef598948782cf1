"""All nodes, keyed by hostname, and the rules that bring them online, offline and to retirement.

Unlike Scale, a vanished agent is not silently dropped: it shows OFFLINE (and counts in the nodes
dependency) until it has been gone for ``retire_after_s``, then DEPRECATED. A host that comes back,
under a new agent id as a restarted Mesos agent does, is the same node again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from scheduler.change_log import ChangeLog
from scheduler.nodes.agent_report import AgentReport
from scheduler.nodes.node import Node

log = logging.getLogger(__name__)

NO_OFFER_OFFLINE_S = 300.0  # Scale's rule: no offer for 5 minutes while running nothing
ABSENT_POLLS_OFFLINE = 2  # listings in a row without the agent before it counts as removed


class NodeRegistry:
    def __init__(self, *, retire_after_s: float = 3600.0, no_offer_offline_s: float = NO_OFFER_OFFLINE_S) -> None:
        self.retire_after_s = retire_after_s
        self.no_offer_offline_s = no_offer_offline_s
        # Since when offers are expected (None: suppressed or filtered by us, so none come): the
        # no-offer rule counts only that time.
        self._offers_expected_since: float | None = 0.0
        self._by_hostname: dict[str, Node] = {}
        self._hostname_by_agent: dict[str, str] = {}
        self._online_since: dict[str, float] = {}
        self._full_on_master: set[str] = set()  # hostnames the master lists active with nothing to offer
        # The listing being taken in, part by part: its agents, and those it shows with nothing to offer.
        self._listing_agents: set[str] = set()
        self._listing_full: set[str] = set()
        self.dirty: set[str] = set()  # hostnames whose database row is out of date
        self._reset: set[str] = set()  # nodes that went offline or retired: their node tasks start over
        self.changes = ChangeLog()  # hostnames whose status entry may have changed (see Node)

    def __iter__(self) -> Iterator[Node]:
        return iter(self._by_hostname.values())

    def __len__(self) -> int:
        return len(self._by_hostname)

    def get(self, hostname: str) -> Node | None:
        return self._by_hostname.get(hostname)

    def for_agent(self, agent_id: str) -> Node | None:
        hostname = self._hostname_by_agent.get(agent_id)
        return self._by_hostname.get(hostname) if hostname is not None else None

    # --- building ---

    def load(self, node_id: int, hostname: str, is_active: bool, is_paused: bool, now: float) -> Node:
        """A node known from the database: offline until its agent shows up."""
        node = Node(hostname, now, node_id=node_id, is_active=is_active, is_paused=is_paused, changes=self.changes)
        self._by_hostname[hostname] = node
        return node

    def _node_for(self, agent_id: str, hostname: str, now: float) -> Node:
        node = self._by_hostname.get(hostname)
        if node is None:
            node = self._by_hostname[hostname] = Node(hostname, now, changes=self.changes)
            self.dirty.add(hostname)
        if node.agent_id != agent_id:
            if node.agent_id:
                self._hostname_by_agent.pop(node.agent_id, None)
                log.info("Node %s has a new agent id %s (was %s)", hostname, agent_id, node.agent_id)
            node.agent_id = agent_id
            self._hostname_by_agent[agent_id] = hostname
            self.dirty.add(hostname)
        return node

    def _bring_online(self, node: Node, now: float) -> None:
        if not node.is_active:
            node.is_active = True
            self.dirty.add(node.hostname)
            log.info("Node %s is back: no longer deprecated", node.hostname)
        if not node.online:
            node.online, node.offline_since, node.offline_reason = True, None, ""
            self._online_since[node.hostname] = now
            log.info("Node %s is online (agent %s)", node.hostname, node.agent_id)

    def _take_offline(self, node: Node, now: float, reason: str) -> None:
        if node.online:
            node.online, node.offline_since, node.offline_reason = False, now, reason
            node.initial_cleanup_done = False
            self._reset.add(node.hostname)
            self._online_since.pop(node.hostname, None)
            log.warning("Node %s is offline: %s", node.hostname, reason)

    # --- what the master tells us ---

    def saw_offer(self, agent_id: str, hostname: str, now: float) -> Node:
        node = self._node_for(agent_id, hostname, now)
        node.last_offer_at = now
        node.absent_polls = 0
        self._bring_online(node, now)
        return node

    def agent_removed(self, agent_id: str, now: float) -> Node | None:
        node = self.for_agent(agent_id)
        if node is not None:
            self._take_offline(node, now, f"the master removed agent {agent_id}")
        return node

    def apply_master(
        self, reports: Iterable[AgentReport], now: float, *, first: bool = True, last: bool = True
    ) -> None:
        """Apply one complete listing of the master's agents, or its parts in order (``first`` to
        ``last``): what the listing leaves out, and which agents it shows full, count once it is all in."""
        if first:
            self._listing_agents, self._listing_full = set(), set()
        listed, full = self._listing_agents, self._listing_full
        for report in reports:
            listed.add(report.agent_id)
            node = self._node_for(report.agent_id, report.hostname, now)
            node.absent_polls = 0
            if report.active:
                self._bring_online(node, now)
                if _nothing_to_offer(report):
                    full.add(node.hostname)
            else:
                self._take_offline(node, now, f"the master reports agent {report.agent_id} inactive")
        if not last:
            return
        self._full_on_master = full
        self._listing_agents, self._listing_full = set(), set()
        for node in self._by_hostname.values():
            if node.agent_id and node.agent_id not in listed:
                node.absent_polls += 1
                if node.absent_polls >= ABSENT_POLLS_OFFLINE:
                    self._take_offline(node, now, f"the master no longer lists agent {node.agent_id}")

    def offers_expected(self, expected: bool, now: float) -> None:
        """Whether the master should be offering us each agent's resources now (not while we have
        suppressed offers or declined them with a long filter)."""
        if not expected:
            self._offers_expected_since = None
        elif self._offers_expected_since is None:
            self._offers_expected_since = now

    # --- the passage of time ---

    def tick(self, now: float, busy_agents: set[str]) -> None:
        """The no-offer rule and retirement; ``busy_agents`` run tasks of ours."""
        expected_since = self._offers_expected_since
        for node in self._by_hostname.values():
            busy = node.agent_id in busy_agents
            if node.online and not busy and node.hostname not in self._full_on_master and expected_since is not None:
                heard = max(node.last_offer_at or self._online_since.get(node.hostname, now), expected_since)
                if now - heard >= self.no_offer_offline_s:
                    minutes = self.no_offer_offline_s / 60
                    self._take_offline(node, now, f"no offer for {minutes:g} minutes while running nothing")
            elif (
                not node.online
                and node.is_active
                and not busy
                and node.offline_since is not None
                and now - node.offline_since >= self.retire_after_s
            ):
                node.is_active = False
                self.dirty.add(node.hostname)
                log.warning("Node %s retired (deprecated) after %.0f s offline", node.hostname, self.retire_after_s)

    def take_reset(self) -> list[Node]:
        nodes = [self._by_hostname[h] for h in self._reset if h in self._by_hostname]
        self._reset.clear()
        return nodes

    def take_dirty(self) -> list[Node]:
        nodes = [self._by_hostname[h] for h in self.dirty if h in self._by_hostname]
        self.dirty.clear()
        return nodes


def _nothing_to_offer(report: AgentReport) -> bool:
    """Other frameworks hold all of its cpus or memory, which explains an agent that never offers."""
    for name in ("cpus", "mem"):
        if report.total.get(name, 0) - report.used.get(name, 0) - report.offered.get(name, 0) <= 1e-6:
            return True
    return False
