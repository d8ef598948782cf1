"""The cold status build in slices: each step serializes a bounded number of node entries, and the
document built afterwards is exactly the one a builder without a warm-up makes, whatever changed
between the steps."""

from __future__ import annotations

from scheduler.core.apply import apply
from scheduler.core.events import OffersReceived, Subscribed
from scheduler.core.inputs import AgentsListed, NodeIdsStored
from scheduler.core.state import CoreState
from scheduler.nodes.agent_report import AgentReport
from scheduler.offers.offer import Offer, Resource
from scheduler.status.document import StatusBuilder

TOTAL = {"cpus": 4.0, "mem": 8192.0, "disk": 65536.0, "gpus": 0.0}


def cluster(agents: int) -> CoreState:
    core = CoreState(hostname="h", now=0.0)
    apply(core, Subscribed("F-1", 15.0), 0.0)
    reports = [AgentReport(f"S{i}", f"agent-{i:03d}", True, TOTAL, {"cpus": 1.0}, {}) for i in range(agents)]
    apply(core, AgentsListed(tuple(reports)), 1.0)
    apply(core, NodeIdsStored({node.hostname: number for number, node in enumerate(core.nodes, start=1)}), 1.0)
    return core


def offers(prefix: str, agents: range) -> OffersReceived:
    return OffersReceived(
        tuple(
            Offer(f"{prefix}{i}", f"S{i}", f"agent-{i:03d}", (Resource("cpus", "SCALAR", scalar=2.0),)) for i in agents
        )
    )


def test_the_cold_build_is_split_and_then_nothing_is_left():
    core = cluster(35)
    builder = StatusBuilder()
    assert sum(1 for _ in builder.warm(core, per_step=10)) == 3  # after 10, 20 and 30 entries
    assert sum(1 for _ in builder.warm(core, per_step=10)) == 0  # all cached: one pass, no pause
    apply(core, offers("O", range(0, 35, 3)), 2.0)  # 12 nodes change
    assert sum(1 for _ in builder.warm(core, per_step=5)) == 2


def test_what_changes_between_steps_is_in_the_document():
    core = cluster(40)
    builder = StatusBuilder()
    steps = builder.warm(core, per_step=8)
    next(steps)
    apply(core, offers("A", range(0, 8)), 2.0)  # nodes already serialized change
    next(steps)
    apply(core, offers("B", range(30, 40)), 2.5)  # and nodes not reached yet
    for _ in steps:
        pass
    assert builder.build(core, 3.0) == StatusBuilder().build(core, 3.0)
