"""Black-hole nodes: the SYSTEM-failure rule over a sliding window, and what it does to nodes."""

from __future__ import annotations

from scheduler.nodes.failure_rate import FailureRates, mark_failing_nodes
from scheduler.nodes.registry import NodeRegistry

NOW = 10_000.0


def ends(rates: FailureRates, hostname: str, failed: int, ok: int, at: float = NOW) -> None:
    for _ in range(failed):
        rates.ended(hostname, True, at)
    for _ in range(ok):
        rates.ended(hostname, False, at)


def test_a_node_failing_far_more_than_the_others_is_failing_with_its_figures():
    rates = FailureRates()
    ends(rates, "bad", failed=6, ok=2)
    ends(rates, "good-1", failed=1, ok=19)
    ends(rates, "good-2", failed=0, ok=20)
    (failing,) = rates.failing(NOW).values()
    assert (failing.hostname, failing.failures, failing.tries, failing.others_failures, failing.others_tries) == (
        "bad",
        6,
        8,
        1,
        40,
    )
    assert failing.describe(600) == (
        "6 of the last 8 job tries on this node failed as SYSTEM in 10 minutes (75%), "
        "against 2% (1 of 40) on the other nodes."
    )


def test_fewer_than_five_failures_is_not_enough():
    rates = FailureRates()
    ends(rates, "bad", failed=4, ok=0)
    ends(rates, "good", failed=0, ok=50)
    assert rates.failing(NOW) == {}
    rates.ended("bad", True, NOW)
    assert set(rates.failing(NOW)) == {"bad"}


def test_half_or_less_of_its_tries_is_not_enough():
    rates = FailureRates()
    ends(rates, "flaky", failed=5, ok=5)  # 50 %: not more than half
    ends(rates, "good", failed=0, ok=50)
    assert rates.failing(NOW) == {}


def test_a_cluster_wide_fault_degrades_no_node():
    rates = FailureRates()
    for host in ("a", "b", "c"):
        ends(rates, host, failed=9, ok=1)  # the database is down: every node fails alike
    assert rates.failing(NOW) == {}
    ends(rates, "d", failed=10, ok=0)
    assert rates.failing(NOW) == {}  # 100 % is not 3x the others' 90 %


def test_failures_leave_the_window():
    rates = FailureRates(window_s=600)
    ends(rates, "bad", failed=5, ok=0, at=NOW)
    ends(rates, "good", failed=0, ok=10, at=NOW + 300)
    assert set(rates.failing(NOW + 600)) == {"bad"}
    assert rates.failing(NOW + 601) == {}
    ends(rates, "bad", failed=4, ok=0, at=NOW + 700)
    assert rates.failing(NOW + 700) == {}  # the old five are gone: four in the window


def registry(*hostnames: str) -> NodeRegistry:
    nodes = NodeRegistry()
    for i, hostname in enumerate(hostnames, 1):
        nodes.saw_offer(f"S{i}", hostname, NOW)
        nodes.get(hostname).initial_cleanup_done = True
    nodes.take_dirty()
    return nodes


def test_a_failing_node_is_degraded_until_its_failures_age_out_and_paused_only_if_asked():
    nodes = registry("bad", "good")
    rates = FailureRates()
    ends(rates, "bad", failed=5, ok=0)
    ends(rates, "good", failed=0, ok=5)
    mark_failing_nodes(nodes, rates, NOW)
    bad, good = nodes.get("bad"), nodes.get("good")
    assert bad.state(False).name == "DEGRADED" and good.state(False).name == "READY"
    error = bad.conditions.errors["FAILING_TASKS"]
    assert (error.title, error.started) == ("Failing Tasks", NOW)
    assert error.description.startswith("5 of the last 5 job tries")
    assert not bad.is_paused and not nodes.take_dirty()
    version = bad.conditions.version
    mark_failing_nodes(nodes, rates, NOW + 1)
    assert bad.conditions.version == version  # the same figures: the node's status entry is unchanged
    mark_failing_nodes(nodes, rates, NOW + 601)
    assert "FAILING_TASKS" not in bad.conditions.errors and bad.state(False).name == "READY"


def test_pause_failing_nodes_pauses_the_node_and_marks_its_row():
    nodes = registry("bad", "good")
    rates = FailureRates()
    ends(rates, "bad", failed=5, ok=0)
    mark_failing_nodes(nodes, rates, NOW, pause=True)
    bad = nodes.get("bad")
    assert bad.is_paused and [n.hostname for n in nodes.take_dirty()] == ["bad"]
    assert bad.state(False).name == "PAUSED"
    assert not nodes.get("good").is_paused
