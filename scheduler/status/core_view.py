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
    """Builds views; keeps each node's ``NodeView`` while what it shows is unchanged, and looks only
    at the nodes the registry's change log names (a 10,000-node view is then what changed, not
    10,000 checks or new objects a second)."""

    def __init__(self) -> None:
        self._views: list[NodeView] = []  # in registry order
        self._position: dict[str, int] = {}
        self._seen: tuple[bool, int] | None = None  # (scheduler paused, the node log's stamp) last built

    def _node(self, node, paused: bool) -> NodeView:
        state = node.state(paused).name
        position = self._position.get(node.hostname)
        cached = self._views[position] if position is not None else None
        if (
            cached is not None
            and cached.state == state
            and cached.node_id == node.id
            and cached.agent_id == (node.agent_id or None)
            and cached.is_paused == node.is_paused
            and cached.is_active == node.is_active
        ):
            return cached
        return NodeView(
            hostname=node.hostname,
            node_id=node.id,
            agent_id=node.agent_id or None,
            state=state,
            is_paused=node.is_paused,
            is_active=node.is_active,
        )

    def _node_views(self, state: CoreState) -> tuple[NodeView, ...]:
        seen, paused = self._seen, state.paused
        self._seen = (paused, state.nodes.changes.stamp)
        if seen is not None and seen[0] == paused and len(self._views) == len(state.nodes):
            for hostname in state.nodes.changes.since(seen[1]):
                node, position = state.nodes.get(hostname), self._position.get(hostname)
                if node is None or position is None:
                    break  # the registry changed otherwise: look at every node
                self._views[position] = self._node(node, paused)
            else:
                return tuple(self._views)
        views = [self._node(node, paused) for node in state.nodes]  # reusing the old ones where unchanged
        self._views, self._position = views, {view.hostname: index for index, view in enumerate(views)}
        return tuple(views)

    def build(self, state: CoreState, now: float) -> SnapshotView:
        nodes = self._node_views(state)
        return SnapshotView(
            generated_at=now,
            scheduler_state=(PAUSED if state.paused else READY)["name"],
            subscribed=state.subscribed,
            warnings=tuple(sorted(state.warnings.names())),
            nodes=nodes,
            queue=_queue(state),
            running_count=len(state.exes),
            running_by_type=tuple(sorted(state.exe_metrics.running_by_type.items())),
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
