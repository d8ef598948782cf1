"""A compact, immutable view of the scheduler published with each status snapshot.

The status document is bytes for clients; this view is for the daemon's own readers (``/metrics``,
the queue status, the dashboard's event stream), so none of them reads the live core or parses the
document again. The core fills it when the snapshot is built; readers only ever see a whole one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class QueueTypeSummary:
    """The queued jobs of one job type, as Scale's ``/v6/queue/status/`` lists them, plus why they wait."""

    job_type_id: int
    job_type_name: str
    job_type_version: str
    count: int
    longest_queued: float  # epoch seconds: when the oldest queued job of this type was queued
    highest_priority: int  # the smallest priority number queued (Scale: lower runs first)
    # Jobs of this type left unplaced in the last scheduling cycle, by reason (e.g. NO_NODE_FITS).
    pending_reasons: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NodeView:
    hostname: str
    node_id: int | None  # the database id (Scale's node id), once the node row is written
    agent_id: str | None
    state: str  # the status's node state name: READY, PAUSED, OFFLINE, DEGRADED, ...
    is_paused: bool
    is_active: bool


@dataclass(frozen=True, slots=True)
class SnapshotView:
    generated_at: float
    scheduler_state: str  # READY, PAUSED, ...
    subscribed: bool
    warnings: tuple[str, ...] = ()  # scheduler warning names
    nodes: tuple[NodeView, ...] = ()
    queue: tuple[QueueTypeSummary, ...] = ()
    running_count: int = 0  # job tries running
    running_by_type: tuple[tuple[int, int], ...] = ()  # (job type id, tries running), for the load history
    counters: Mapping[str, float] = field(default_factory=dict)  # monotonic totals behind /metrics
    gauges: Mapping[str, float] = field(default_factory=dict)  # offers held, jobs queued, ...
