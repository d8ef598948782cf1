"""Node rules: online, offline (removed, inactive, absent, silent), retirement, return."""

from scheduler.mesos.agents import AgentReport, parse_agents
from scheduler.nodes import states
from scheduler.nodes.conditions import HEALTH_FAIL, Conditions
from scheduler.nodes.registry import NodeRegistry


def report(agent_id="S1", hostname="h1", active=True, total=None, used=None, offered=None):
    return AgentReport(agent_id, hostname, active, total or {"cpus": 4, "mem": 100}, used or {}, offered or {})


def test_an_offer_brings_a_node_online_and_marks_it_for_writing():
    nodes = NodeRegistry()
    node = nodes.saw_offer("S1", "h1", now=0)
    assert node.online and node.agent_id == "S1"
    assert node.state(scheduler_paused=False) is states.INITIAL_CLEANUP
    node.initial_cleanup_done = True
    assert node.state(scheduler_paused=False) is states.READY
    assert [n.hostname for n in nodes.take_dirty()] == ["h1"]
    assert nodes.take_dirty() == []


def test_state_priority():
    nodes = NodeRegistry()
    node = nodes.saw_offer("S1", "h1", now=0)
    node.initial_cleanup_done = True
    node.conditions.raise_error(HEALTH_FAIL, now=0)
    assert node.state(False) is states.DEGRADED
    assert node.state(True) is states.SCHEDULER_STOPPED
    node.is_paused = True
    assert node.state(True) is states.PAUSED
    node.online = False
    assert node.state(True) is states.OFFLINE
    node.is_active = False
    assert node.state(True) is states.DEPRECATED


def test_master_inactive_and_absent_agents_go_offline():
    nodes = NodeRegistry()
    nodes.apply_master([report("S1", "h1"), report("S2", "h2")], now=0)
    assert nodes.get("h1").online and nodes.get("h2").online  # listed active: online without an offer
    nodes.apply_master([report("S1", "h1", active=False)], now=1)
    assert not nodes.get("h1").online
    assert nodes.get("h2").online  # absent once is not enough (a master that just failed over)
    nodes.apply_master([report("S1", "h1", active=False)], now=2)
    assert not nodes.get("h2").online
    assert "no longer lists" in nodes.get("h2").offline_reason


def test_no_offer_for_five_minutes_while_idle_goes_offline_but_busy_nodes_stay():
    nodes = NodeRegistry()
    nodes.saw_offer("S1", "idle", now=0)
    nodes.saw_offer("S2", "busy", now=0)
    nodes.tick(299, busy_agents={"S2"})
    assert nodes.get("idle").online
    nodes.tick(300, busy_agents={"S2"})
    assert not nodes.get("idle").online and nodes.get("busy").online


def test_an_agent_the_master_shows_full_is_not_taken_offline_for_lack_of_offers():
    nodes = NodeRegistry()
    nodes.apply_master([report("S1", "h1", total={"cpus": 4, "mem": 100}, used={"cpus": 4})], now=0)
    nodes.tick(1000, busy_agents=set())
    assert nodes.get("h1").online


def test_retirement_and_return():
    nodes = NodeRegistry(retire_after_s=60)
    nodes.saw_offer("S1", "h1", now=0)
    nodes.take_dirty()
    nodes.agent_removed("S1", now=10)
    nodes.tick(69, busy_agents=set())
    assert nodes.get("h1").is_active
    nodes.tick(70, busy_agents=set())
    node = nodes.get("h1")
    assert not node.is_active and node.state(False) is states.DEPRECATED
    assert [n.hostname for n in nodes.take_dirty()] == ["h1"]
    # Back under a new agent id: the same node, active and online.
    again = nodes.saw_offer("S7", "h1", now=100)
    assert again is node and again.is_active and again.online and again.agent_id == "S7"
    assert nodes.for_agent("S1") is None and nodes.for_agent("S7") is node


def test_nodes_loaded_from_the_database_are_offline_until_seen():
    nodes = NodeRegistry(retire_after_s=60)
    node = nodes.load(5, "h1", is_active=True, is_paused=True, now=0)
    assert node.state(False) is states.OFFLINE and node.id == 5
    nodes.saw_offer("S1", "h1", now=1)
    assert node.state(False) is states.PAUSED


def test_conditions_keep_start_and_refresh_last_update():
    conditions = Conditions()
    conditions.raise_error(HEALTH_FAIL, now=10)
    conditions.raise_error(HEALTH_FAIL, now=20)
    (error,) = conditions.errors.values()
    assert (error.started, error.last_updated) == (10, 20)
    assert error.as_json()["started"] == "1970-01-01T00:00:10Z"
    assert conditions.clear_errors(HEALTH_FAIL) and not conditions.errors


def test_parse_agents_skips_malformed_entries():
    reports = parse_agents(
        {
            "slaves": [
                {
                    "id": "S1",
                    "hostname": "h1",
                    "active": True,
                    "resources": {"cpus": 4, "ports": "[31000-32000]"},
                    "used_resources": {"cpus": 1.5},
                    "offered_resources": {},
                },
                {"hostname": "no-id"},
                "garbage",
            ]
        }
    )
    assert reports == [AgentReport("S1", "h1", True, {"cpus": 4.0}, {"cpus": 1.5}, {})]


def test_a_listing_taken_in_parts_counts_what_it_leaves_out_and_who_is_full_once_it_is_all_in():
    from scheduler.core.inputs import AgentsListed

    nodes = NodeRegistry()
    full = {"cpus": 4}
    nodes.apply_master([report("S1", "h1", used=full), report("S2", "h2"), report("S3", "h3")], now=0)
    assert nodes._full_on_master == {"h1"}
    listing = AgentsListed((report("S2", "h2", used=full), report("S3", "h3")))  # S1 left out
    first, second = listing.parts(1)
    nodes.apply_master(first.reports, now=1, first=first.first, last=first.last)
    # Between the parts nothing is counted absent, and the last complete listing's full agents stand.
    assert [node.absent_polls for node in (nodes.get("h1"), nodes.get("h2"), nodes.get("h3"))] == [0, 0, 0]
    assert nodes._full_on_master == {"h1"}
    nodes.apply_master(second.reports, now=1, first=second.first, last=second.last)
    assert [node.absent_polls for node in (nodes.get("h1"), nodes.get("h2"), nodes.get("h3"))] == [1, 0, 0]
    assert nodes._full_on_master == {"h2"}
    # The next listing, whole, leaves S1 out again: offline after two, as for whole listings.
    nodes.apply_master([report("S2", "h2"), report("S3", "h3")], now=2)
    assert not nodes.get("h1").online and nodes.get("h2").online and nodes._full_on_master == set()


def test_a_listing_splits_into_parts_in_order_first_and_last_marked():
    from scheduler.core.inputs import AgentsListed

    listing = AgentsListed(tuple(report(f"S{i}", f"h{i}") for i in range(5)))
    assert listing.parts(5) == [listing] and listing.parts(10) == [listing]
    parts = listing.parts(2)
    assert [[r.agent_id for r in part.reports] for part in parts] == [["S0", "S1"], ["S2", "S3"], ["S4"]]
    assert [(part.first, part.last) for part in parts] == [(True, False), (False, False), (False, True)]
    assert [(part.first, part.last) for part in listing.parts(4)] == [(True, False), (False, True)]
