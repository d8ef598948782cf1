"""The scheduler core: offers, nodes, tasks, metrics and warnings, changed only through its methods.

Every method is synchronous, takes the current time, and returns the calls to make as ``Actions``;
the runtime executes them. This is the state the status snapshot is built from.
"""

from __future__ import annotations

import logging

from scheduler.core.actions import Actions
from scheduler.core.scheduler_state import SchedulerWarnings
from scheduler.mesos.agents import AgentReport
from scheduler.mesos.events import (
    Disconnected,
    Event,
    Failure,
    MasterError,
    OfferRescinded,
    OffersReceived,
    Subscribed,
    TaskState,
    TaskUpdate,
)
from scheduler.metrics.scheduler_metrics import SchedulerMetrics
from scheduler.nodes.registry import NodeRegistry
from scheduler.offers.book import OfferBook
from scheduler.resources.accounting import to_cents
from scheduler.tasks.registry import TaskRegistry

log = logging.getLogger(__name__)

# Scale counts these as finished tasks; LOST and the other terminal states are not counted.
FINISHED_TASK_STATES = frozenset({TaskState.FINISHED, TaskState.FAILED, TaskState.KILLED})


class SchedulerCore:
    def __init__(
        self,
        *,
        hostname: str,
        now: float,
        accepted_role: str = "*",
        metrics_window_s: int = 10,
        node_retire_after_s: float = 3600.0,
    ) -> None:
        self.hostname = hostname
        self.offers = OfferBook(accepted_role)
        self.nodes = NodeRegistry(retire_after_s=node_retire_after_s)
        self.tasks = TaskRegistry()
        self.metrics = SchedulerMetrics(metrics_window_s, now)
        self.warnings = SchedulerWarnings()
        self.framework_id: str | None = None
        self.subscribed = False
        self.paused = False
        self.master_agents_at: float | None = None  # when the master last listed its agents to us

    # --- events from the master ---

    def on_event(self, event: Event, now: float) -> Actions:
        if isinstance(event, OffersReceived):
            return self._on_offers(event, now)
        if isinstance(event, TaskUpdate):
            return self._on_update(event, now)
        if isinstance(event, OfferRescinded):
            self.offers.rescind(event.offer_id)
        elif isinstance(event, Subscribed):
            self.framework_id, self.subscribed = event.framework_id, True
        elif isinstance(event, Disconnected):
            self.subscribed = False
            dropped = self.offers.clear()  # Mesos rescinds every offer of a disconnected framework
            if dropped:
                log.info("Dropped %d held offers: %s", dropped, event.reason)
        elif isinstance(event, Failure):
            if event.agent_removed:
                self.nodes.agent_removed(event.agent_id, now)
            else:
                log.info("Executor %s on agent %s ended (%s)", event.executor_id, event.agent_id, event.exit_status)
        elif isinstance(event, MasterError):
            log.error("Mesos master error: %s", event.message)
        return Actions()

    def _on_offers(self, event: OffersReceived, now: float) -> Actions:
        actions = Actions(decline=list(event.unusable_offer_ids))
        self.metrics.count("new_offers_per_sec", len(event.offers), now)
        for offer in event.offers:
            self.nodes.saw_offer(offer.agent_id, offer.hostname, now)
        if self.paused:
            # A paused scheduler holds nothing (Scale issue #1516: hoarding starves the cluster).
            actions.decline += [offer.id for offer in event.offers]
        else:
            actions.decline += [offer.id for offer in self.offers.add(event.offers, now)]
        self._observe_offered({offer.agent_id for offer in event.offers}, now)
        return actions

    def _observe_offered(self, agent_ids: set[str], now: float) -> None:
        """Feed the watermark of agents the master has not described yet, while their offers are in hand."""
        for agent_id in agent_ids:
            node = self.nodes.for_agent(agent_id)
            if node is not None and node.resources.total is None:
                node.resources.observe(
                    self.tasks.running_by_agent.get(agent_id, {}), self.offers.offered_cents(agent_id), now
                )

    def _on_update(self, event: TaskUpdate, now: float) -> Actions:
        status = event.status
        self.metrics.count("task_updates_per_sec", 1, now)
        if status.state in FINISHED_TASK_STATES:
            self.metrics.count("tasks_finished_per_sec", 1, now)
        self.tasks.on_update(status, now)
        return Actions(acknowledge=[status] if status.uuid else [])

    # --- the master's agent listing ---

    def apply_master_agents(self, reports: list[AgentReport], now: float) -> None:
        self.nodes.apply_master(reports, now)
        for report in reports:
            node = self.nodes.for_agent(report.agent_id)
            if node is None:
                continue
            node.resources.update_from_master(
                to_cents(report.total), to_cents(report.used), self.tasks.running_by_agent.get(report.agent_id, {})
            )
        self.master_agents_at = now

    # --- time ---

    def cycle(self, now: float) -> Actions:
        """One scheduling cycle: every held offer is used or handed back."""
        if not self.subscribed:
            return Actions()
        return Actions(decline=[offer.id for offer in self.offers.take_all()])

    def tick(self, now: float) -> None:
        """Once a second: the node rules that depend on time."""
        self.nodes.tick(now, self.tasks.busy_agents())
