"""The status builder's caches: a node's cached entry and the cluster sums kept by difference.

One builder is kept across builds (as the engine keeps it); after each change to something a node
entry shows, its document must equal one built from scratch. A field shown in a node entry but left
out of the node's signature leaves the cached entry stale, and the test of that field fails.
"""

from __future__ import annotations

import orjson
import pytest

from scheduler.core.apply import apply
from scheduler.core.events import Failure, OffersReceived, Subscribed
from scheduler.core.inputs import AgentsListed, FlagsRead, NodeFlagsRead, NodeIdsStored
from scheduler.core.state import CoreState
from scheduler.jobs.definitions import ErrorCategory, ExeStatus
from scheduler.nodes import conditions
from scheduler.nodes.agent_report import AgentReport
from scheduler.offers.offer import Offer, Resource
from scheduler.resources.accounting import CORE_RESOURCES
from scheduler.status.document import StatusBuilder
from scheduler.tasks.registry import Task, TaskKind

NOW = 5000.0


def offer(offer_id: str, agent: int, cpus: float = 1.0, mem: float = 128.0) -> Offer:
    resources = (Resource("cpus", "SCALAR", scalar=cpus), Resource("mem", "SCALAR", scalar=mem))
    return Offer(offer_id, f"S{agent}", f"host-{agent}", resources)


def report(agent: int, cpus: float = 4.0, used: float = 1.0) -> AgentReport:
    return AgentReport(
        f"S{agent}", f"host-{agent}", True, {"cpus": cpus, "mem": 4096.0, "disk": 33.33}, {"cpus": used}, {}
    )


def cluster() -> CoreState:
    """Three nodes with ids, master totals, other frameworks' use and a held offer each."""
    state = CoreState(hostname="sched", now=NOW)
    apply(state, Subscribed("F", 15.0), NOW)
    apply(state, AgentsListed(tuple(report(a) for a in (1, 2, 3))), NOW)
    apply(state, NodeIdsStored({f"host-{a}": a for a in (1, 2, 3)}), NOW)
    apply(state, OffersReceived(tuple(offer(f"O{a}", a, cpus=0.33) for a in (1, 2, 3))), NOW)
    return state


def node_task(state: CoreState, kind: TaskKind, task_type: str) -> None:
    state.tasks.add(Task(f"t-{task_type}", "S1", kind, task_type, {"cpus": 10}, NOW))


CHANGES = {
    "id": lambda s: apply(s, NodeIdsStored({"host-1": 41}), NOW),
    # The same offer under a new agent id (a restarted agent): nothing else about the node changes.
    "agent_id": lambda s: (
        s.offers.rescind("O1"),
        apply(s, OffersReceived((Offer("O9", "S1-new", "host-1", offer("x", 1, cpus=0.33).resources),)), NOW),
    ),
    "is_active": lambda s: setattr(s.nodes.get("host-1"), "is_active", False),
    "online": lambda s: apply(s, Failure(agent_id="S1"), NOW),
    "node is_paused": lambda s: apply(s, NodeFlagsRead({"host-1": True}), NOW),
    "scheduler paused": lambda s: apply(s, FlagsRead(paused=True, message_handlers=1), NOW),
    "initial cleanup done": lambda s: setattr(s.nodes.get("host-1"), "initial_cleanup_done", True),
    "errors": lambda s: s.nodes.get("host-1").conditions.raise_error(conditions.BAD_DAEMON, NOW),
    "warnings": lambda s: s.nodes.get("host-1").conditions.raise_warning(
        "SLOW_CLEANUP", conditions.SLOW_CLEANUP, "slow", NOW
    ),
    "node tasks": lambda s: node_task(s, TaskKind.NODE, "health-check"),
    "system tasks": lambda s: node_task(s, TaskKind.SYSTEM, "message-handler"),
    "job tasks running": lambda s: node_task(s, TaskKind.JOB, "work"),
    # The same resources in two offers instead of one: only the count changes.
    "num_offers": lambda s: (
        s.offers.rescind("O1"),
        apply(s, OffersReceived((offer("O10", 1, cpus=0.13, mem=64.0), offer("O11", 1, cpus=0.2, mem=64.0))), NOW),
    ),
    "offered amount": lambda s: (s.offers.rescind("O1"), apply(s, OffersReceived((offer("O12", 1, cpus=2.5),)), NOW)),
    "master totals": lambda s: apply(s, AgentsListed(tuple(report(a, cpus=8.0) for a in (1, 2, 3))), NOW),
    "others' use": lambda s: apply(s, AgentsListed(tuple(report(a, used=2.0) for a in (1, 2, 3))), NOW),
    "job executions": lambda s: s.exe_metrics.finished(1, 7, ExeStatus.FAILED, ErrorCategory.DATA, NOW, NOW),
    "running executions": lambda s: s.exe_metrics.started(1, 7),
}


def host_1(document: dict) -> dict:
    return next(node for node in document["nodes"] if node["hostname"] == "host-1")


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_cached_node_entry_follows_every_field_it_shows(change):
    state = cluster()
    builder = StatusBuilder()
    before = orjson.loads(builder.build(state, NOW))
    builder.build(state, NOW)  # warm: every entry now comes from the cache
    CHANGES[change](state)
    cached = orjson.loads(builder.build(state, NOW))
    fresh = orjson.loads(StatusBuilder().build(state, NOW))
    assert host_1(fresh) != host_1(before), "the change must show in host-1's entry"
    assert cached == fresh


def _sum_of_nodes(document: dict) -> dict:
    sums = {name: dict.fromkeys(("offered", "total", "running", "free", "unavailable"), 0) for name in CORE_RESOURCES}
    for node in document["nodes"]:
        if not node["is_active"]:
            continue  # Scale's cluster sums count active nodes only
        for name in CORE_RESOURCES:
            for part, value in node["resources"][name].items():
                sums[name][part] += round(value * 100)
    return {name: {part: cents / 100 for part, cents in parts.items()} for name, parts in sums.items()}


def test_cluster_sums_exactly():
    """The builder's sums, kept by difference across builds, equal the sum of the node entries to
    the hundredth (0.33 x 3 is 0.99, not 0.9900000000000001), through changes and a retirement."""
    state = cluster()
    builder = StatusBuilder()
    for change in ("num_offers", "others' use", "job tasks running", "master totals", "is_active", "online"):
        document = orjson.loads(builder.build(state, NOW))
        assert document["resources"] == {
            name: parts for name, parts in _sum_of_nodes(document).items() if name in document["resources"]
        }
        CHANGES[change](state)
    document = orjson.loads(builder.build(state, NOW))
    assert {k: v for k, v in _sum_of_nodes(document).items() if k in document["resources"]} == document["resources"]
    first = orjson.loads(StatusBuilder().build(cluster(), NOW))
    assert first["resources"]["cpus"]["offered"] == 0.99 and first["resources"]["disk"]["total"] == 99.99


@pytest.mark.parametrize(
    "change",
    ["id", "agent_id", "is_active", "online", "node is_paused", "scheduler paused", "errors", "initial cleanup done"],
)
def test_the_view_builder_s_cached_node_views_follow_what_they_show(change):
    from scheduler.status.core_view import ViewBuilder, view_of

    state = cluster()
    builder = ViewBuilder()
    before = builder.build(state, NOW)
    CHANGES[change](state)
    after = builder.build(state, NOW)
    assert after.nodes == view_of(state, NOW).nodes != before.nodes
    if change != "scheduler paused":  # which every node shows
        assert after.nodes[1] is before.nodes[1]  # host-2 did not change: its view is reused
