"""The ``SnapshotView`` of the core at one moment: what /metrics, the probes and the queue status
read instead of the live core. Built with the status document, on the same loop, between inputs."""

from __future__ import annotations

from scheduler.core.state import CoreState
from scheduler.core.warnings import PAUSED, READY
from scheduler.scheduling.pending import as_strings
from scheduler.status.view import NodeView, QueueTypeSummary, SnapshotView


def _queue(state: CoreState) -> tuple[QueueTypeSummary, ...]:
    result = []
    for job_type_id, summary in sorted(state.queue.summaries().items()):  # one look per job, no sort
        job_type = state.job_types.get(job_type_id)
        result.append(
            QueueTypeSummary(
                job_type_id=job_type_id,
                job_type_name=job_type.name if job_type else "",
                job_type_version=job_type.version if job_type else "",
                count=summary.count,
                longest_queued=summary.oldest_queued_at,
                highest_priority=summary.best_priority,
                pending_reasons=as_strings(state.pending.get(job_type_id, {})),
            )
        )
    return tuple(result)


class ViewBuilder:
    """Builds views; keeps each node's ``NodeView`` while what it shows is unchanged (a 10,000-node
    view is then a state check per node, not 10,000 new objects a second)."""

    def __init__(self) -> None:
        self._nodes: dict[str, NodeView] = {}

    def _node(self, node, paused: bool) -> NodeView:
        state = node.state(paused).name
        cached = self._nodes.get(node.hostname)
        if (
            cached is not None
            and cached.state == state
            and cached.node_id == node.id
            and cached.agent_id == (node.agent_id or None)
            and cached.is_paused == node.is_paused
            and cached.is_active == node.is_active
        ):
            return cached
        view = self._nodes[node.hostname] = NodeView(
            hostname=node.hostname,
            node_id=node.id,
            agent_id=node.agent_id or None,
            state=state,
            is_paused=node.is_paused,
            is_active=node.is_active,
        )
        return view

    def build(self, state: CoreState, now: float) -> SnapshotView:
        nodes = tuple(self._node(node, state.paused) for node in state.nodes)
        if len(self._nodes) > len(nodes):  # nodes left the registry
            listed = {view.hostname for view in nodes}
            self._nodes = {h: v for h, v in self._nodes.items() if h in listed}
        return SnapshotView(
            generated_at=now,
            scheduler_state=(PAUSED if state.paused else READY)["name"],
            subscribed=state.subscribed,
            warnings=tuple(sorted(state.warnings.names())),
            nodes=nodes,
            queue=_queue(state),
            running_count=len(state.exes),
            counters=state.metrics.totals(),
            gauges={
                "offers_held": len(state.offers),
                "jobs_queued": len(state.queue),
                "tries_running": len(state.exes),
                "tasks_tracked": len(state.tasks),
                "paused": int(state.paused),
                "message_handlers_desired": state.messaging.desired_count,
                "message_handlers_running": state.messaging.actual_count,
                "launches_held": int(state.hold_launches),
                "launches_in_flight": len(state.launches),
                "launches_in_flight_most": state.launches.most,
                "launches_in_flight_limit": state.launches.limit,
            },
        )


def view_of(state: CoreState, now: float) -> SnapshotView:
    """One view from scratch (tests, tools); the engine keeps a ``ViewBuilder``."""
    return ViewBuilder().build(state, now)
