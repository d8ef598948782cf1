"""The largest resources of any one node, kept from the nodes' change log (``ResourceCheck``): the
same as a walk of every node after any sequence of changes, at the cost of the nodes that changed."""

from __future__ import annotations

import random

from scheduler.core.warnings import SchedulerWarnings
from scheduler.jobs.definitions import JobType
from scheduler.jobs.resource_check import ResourceCheck
from scheduler.nodes.registry import NodeRegistry


def walked(nodes: NodeRegistry) -> dict[str, int]:
    largest: dict[str, int] = {}
    for node in nodes:
        if node.is_active and node.online:
            for name, value in node.resources.known_total().items():
                largest[name] = max(largest.get(name, 0), value)
    return largest


def test_the_largest_follow_every_change_as_a_walk_of_all_nodes_would_see_it():
    rng = random.Random(12)
    nodes = NodeRegistry()
    check = ResourceCheck()
    for step in range(3000):
        hostname = f"h{rng.randrange(40)}"
        node = nodes.get(hostname) or nodes.saw_offer(f"S-{hostname}", hostname, float(step))
        change = rng.randrange(5)
        if change == 0:
            totals = {"cpus": rng.choice((100, 400, 1600)), "mem": rng.choice((1024_00, 65536_00))}
            if rng.random() < 0.2:
                totals["gpus"] = rng.choice((100, 200))
            node.resources.update_from_master(totals, {}, {})
        elif change == 1:
            node.online = not node.online
        elif change == 2:
            node.is_active = not node.is_active
        elif change == 3:
            nodes.saw_offer(f"S-{hostname}", hostname, float(step))  # back online
        if step % 7 == 0:
            assert check._follow(nodes) == walked(nodes), step


def test_a_check_with_nothing_changed_looks_at_no_node_and_a_new_largest_is_seen_at_once():
    nodes = NodeRegistry()
    for i in range(500):
        nodes.saw_offer(f"S{i}", f"h{i}", 0.0).resources.update_from_master({"cpus": 400, "mem": 8192_00}, {}, {})
    check = ResourceCheck()
    warnings = SchedulerWarnings()
    big = JobType("big", "1", "true", cpus=8.0, mem=1024.0, id=1)
    check.update(nodes, [big], warnings, 1.0)
    assert check.failing() == {1}  # no node has 8 cpus
    looked = check.looked_at
    check.update(nodes, [big], warnings, 2.0)
    assert check.looked_at == looked  # nothing changed: no node looked at
    nodes.get("h7").resources.update_from_master({"cpus": 1600, "mem": 8192_00}, {}, {})
    check.update(nodes, [big], warnings, 3.0)
    assert check.failing() == set() and check.looked_at == looked + 1
    nodes.get("h7").online = False  # the only node that could: all looked at again
    check.update(nodes, [big], warnings, 4.0)
    assert check.failing() == {1} and check.looked_at == looked + 2 + 499


def test_a_new_registry_is_looked_at_whole():
    check = ResourceCheck()
    first = NodeRegistry()
    first.saw_offer("S1", "h1", 0.0).resources.update_from_master({"cpus": 1600}, {}, {})
    assert check._follow(first) == {"cpus": 1600}
    second = NodeRegistry()  # its change log starts again from stamp 0
    second.saw_offer("S2", "h2", 0.0).resources.update_from_master({"cpus": 400}, {}, {})
    assert check._follow(second) == {"cpus": 400}
