"""The cold status build in slices: each step serializes a bounded number of node entries, and the
document built afterwards is exactly the one a builder without a warm-up makes, whatever changed
between the steps."""

from __future__ import annotations

import orjson

from scheduler.core.apply import apply
from scheduler.core.events import OffersReceived, Subscribed
from scheduler.core.inputs import AgentsListed, NodeIdsStored
from scheduler.core.state import CoreState
from scheduler.nodes import conditions
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


def test_parts_of_a_changed_node_are_serialized_again_only_when_their_inputs_changed():
    """An offer that arrives and goes between two builds leaves the node's entry as it was; an
    offer that stays changes only that node's resources, and the document equals a fresh one."""
    core = cluster(6)
    builder = StatusBuilder()

    def nodes(document: bytes) -> bytes:
        return document.partition(b',"nodes":[')[2]

    first = nodes(builder.build(core, 2.0))
    count = builder.serialized
    apply(core, offers("A", range(0, 3)), 2.5)
    for offer_id in ("A0", "A1", "A2"):
        core.offers.rescind(offer_id)
    assert nodes(builder.build(core, 3.0)) == first
    assert builder.serialized == count  # versions moved, content did not: nothing serialized
    apply(core, offers("B", range(4, 6)), 3.5)
    assert builder.build(core, 4.0) == StatusBuilder().build(core, 4.0)
    assert builder.serialized == count + 2


def test_a_build_looks_only_at_the_nodes_that_changed_and_at_all_when_all_show_the_change():
    """Scale read every node every cycle (and only the first 1,000); here a build costs what changed."""
    core = cluster(300)
    builder = StatusBuilder()
    builder.build(core, 2.0)
    looked = builder.looked_at
    apply(core, offers("A", range(0, 300, 100)), 2.5)  # three agents' offers
    core.exe_metrics.started(150, 1)  # a job started on a fourth node (by node id)
    core.nodes.get("agent-007").conditions.raise_error(conditions.BAD_DAEMON, 2.5)  # a fifth
    assert builder.build(core, 3.0) == StatusBuilder().build(core, 3.0)
    assert builder.looked_at - looked == 5
    looked = builder.looked_at
    builder.build(core, 3.5)
    assert builder.looked_at == looked  # nothing changed: nothing looked at
    core.paused = True  # every node's state shows it
    assert builder.build(core, 4.0) == StatusBuilder().build(core, 4.0)
    assert builder.looked_at - looked == 300


def test_a_bounded_build_leaves_the_rest_to_the_next_look_and_then_catches_up():
    """During a burst every node changes while the warm-up's slices run: the last, unbroken step
    brings at most ``most`` entries up to date, the others show the look before (one snapshot
    behind, the cluster sums those of the entries shown), and the next round does them first."""
    core = cluster(30)
    builder = StatusBuilder()
    for _ in builder.warm(core):
        pass
    before = builder.build(core, 2.0)
    apply(core, offers("A", range(0, 30)), 2.5)  # every node changes
    looked = builder.looked_at
    bounded = orjson.loads(builder.build(core, 3.0, most=10))
    assert builder.looked_at - looked == 10
    fresh = orjson.loads(StatusBuilder().build(core, 3.0))
    shown = {node["hostname"]: node["num_offers"] for node in bounded["nodes"]}
    assert sorted(shown.values()) == [0] * 20 + [1] * 10  # ten brought up to date, twenty as before
    assert bounded["num_offers"] == 10  # the sums are those of the entries shown
    old = {node["hostname"]: node for node in orjson.loads(before)["nodes"]}
    for node in bounded["nodes"]:
        assert node == (
            old[node["hostname"]]
            if shown[node["hostname"]] == 0
            else next(n for n in fresh["nodes"] if n["hostname"] == node["hostname"])
        )
    assert sum(1 for _ in builder.warm(core, per_step=5)) == 4  # the twenty left are the next look's
    assert builder.build(core, 3.5, most=10) == StatusBuilder().build(core, 3.5)


def test_a_bounded_build_still_shows_a_node_it_never_serialized():
    core = cluster(12)
    builder = StatusBuilder()
    document = orjson.loads(builder.build(core, 2.0, most=5))  # no warm-up: nothing cached
    assert len(document["nodes"]) == 12
    assert builder.build(core, 2.5, most=5) == StatusBuilder().build(core, 2.5)


def test_a_step_ends_when_its_time_budget_is_spent_and_says_how_many_entries_fit():
    core = cluster(40)
    builder = StatusBuilder()
    ticks = iter(range(10_000))

    def clock() -> float:  # a millisecond passes at each look at the clock
        return next(ticks) / 1000

    assert sum(1 for _ in builder.warm(core, per_step=100, budget_s=0.012, clock=clock)) == 3  # after 12, 24, 36
    assert builder.slice_entries == 12
    assert builder.build(core, 2.0) == StatusBuilder().build(core, 2.0)
    apply(core, offers("A", range(0, 40)), 2.5)
    assert sum(1 for _ in builder.warm(core, per_step=20)) == 2  # no budget: whole steps
    assert builder.slice_entries == 20


def test_entries_left_by_a_bounded_build_are_not_lost_when_a_warm_up_stops_halfway():
    core = cluster(30)
    builder = StatusBuilder()
    builder.build(core, 2.0)
    apply(core, offers("A", range(0, 30)), 2.5)
    builder.build(core, 3.0, most=10)  # twenty left
    steps = builder.warm(core, per_step=5)
    next(steps)  # five of them done, then the warm-up is dropped (a snapshot task cancelled)
    steps.close()
    assert builder.build(core, 3.5) == StatusBuilder().build(core, 3.5)
