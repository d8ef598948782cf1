"""Warnings about the master: ghost frameworks (Scale #1900) read through the operator API's
GET_FRAMEWORKS (``/master/frameworks`` from a master without it) by the engine's master poll, and
the ZooKeeper detector's problem; each clears when its condition goes."""

from __future__ import annotations

import orjson
import pytest
from harness import Harness

from scheduler.core.apply import apply
from scheduler.core.inputs import MasterProblems
from scheduler.core.state import CoreState
from scheduler.mesos.driver import CallError
from scheduler.runtime.master_listings import GHOST_CHECK_INTERVAL_S


@pytest.fixture
async def h(tmp_path):
    harness = Harness(tmp_path, agents=1)
    await harness.start()
    return harness


def frameworks(*extra: dict) -> dict:
    """The master's GET_FRAMEWORKS answer: our framework and ``extra`` ones (id, name, principal,
    hostname, active, recovered as in ``/master/frameworks``)."""

    def entry(framework: dict) -> dict:
        info = {"id": {"value": framework["id"]}, "user": "root", "name": framework["name"]}
        info |= {key: framework[key] for key in ("principal", "hostname") if key in framework}
        return {"framework_info": info, "active": framework["active"], "connected": framework["active"]} | {
            "recovered": framework.get("recovered", False)
        }

    ours = {"id": "F-1", "name": "scale", "active": True}
    return {"type": "GET_FRAMEWORKS", "get_frameworks": {"frameworks": [entry(ours), *map(entry, extra)]}}


def listing(*extra: dict) -> dict:
    """The same as ``/master/frameworks`` lists it (with the tasks), from a master without the operator API."""
    ours = {"id": "F-1", "name": "scale", "active": True, "tasks": []}
    return {"frameworks": [ours, *extra], "completed_frameworks": [], "unregistered_frameworks": []}


def scheduler_warnings(h: Harness) -> dict[str, str]:
    document = orjson.loads(h.engine.build_snapshot().body)
    return {w["name"]: w["description"] for w in document["scheduler"]["warnings"]}


async def poll(h: Harness, advance_s: float = GHOST_CHECK_INTERVAL_S) -> None:
    h.clock.now += advance_s
    await h.engine._poll_master()
    await h.run_until_idle()


async def test_a_ghost_framework_raises_a_warning_until_it_is_gone(h):
    ghost = {"id": "F-0", "name": "scale", "active": False, "hostname": "old-host"}
    h.driver.operator_answers["GET_FRAMEWORKS"] = frameworks(ghost)
    await poll(h)
    description = scheduler_warnings(h)["GHOST_FRAMEWORK"]
    assert "F-0 (name 'scale', inactive, hostname old-host, holding nothing)" in description
    assert "F-1" not in description  # our own framework is not a ghost
    # The master forgets it: the warning goes at the next read.
    h.driver.operator_answers["GET_FRAMEWORKS"] = frameworks()
    await poll(h)
    assert "GHOST_FRAMEWORK" not in scheduler_warnings(h)


async def test_frameworks_are_read_every_ghost_check_interval_and_a_failed_read_changes_nothing(h):
    h.driver.operator_answers["GET_FRAMEWORKS"] = frameworks({"id": "F-9", "name": "scale", "active": True})
    await poll(h)
    assert "GHOST_FRAMEWORK" in scheduler_warnings(h)
    h.driver.operator_answers["GET_FRAMEWORKS"] = frameworks()
    await poll(h, advance_s=5.0)  # the agents' poll interval: too soon to read the frameworks again
    assert "GHOST_FRAMEWORK" in scheduler_warnings(h)
    h.driver.operator_answers["GET_FRAMEWORKS"] = 503  # the read fails: the last answer stands
    await poll(h)
    assert "GHOST_FRAMEWORK" in scheduler_warnings(h)


async def test_a_framework_with_our_principal_is_a_ghost_too(tmp_path):
    h = Harness(tmp_path, agents=1, settings={"MESOS_PRINCIPAL": "scale-principal"})
    await h.start()
    other = {"id": "F-7", "name": "other-name", "principal": "scale-principal", "active": True}
    h.driver.operator_answers["GET_FRAMEWORKS"] = frameworks(other)
    await poll(h)
    assert "principal 'scale-principal'" in scheduler_warnings(h)["GHOST_FRAMEWORK"]


class FakeDetector:
    def __init__(self) -> None:
        self.text: str | None = None

    def problem(self) -> str | None:
        return self.text


async def test_the_detectors_problem_is_a_warning_while_it_lasts(h):
    detector = FakeDetector()
    h.engine.listings.detector = detector
    await poll(h, advance_s=5.0)
    assert "MASTER_DETECTION" not in scheduler_warnings(h)
    detector.text = "ZooKeeper zk://zk1:2181/mesos unreachable since 12:00:00 UTC; keeping master http://m1:5050"
    h.driver.subscribed = False  # the problem is shown whether or not the master is reachable
    await poll(h, advance_s=5.0)
    assert scheduler_warnings(h)["MASTER_DETECTION"] == f"Finding the Mesos master: {detector.text}"
    detector.text = None
    await poll(h, advance_s=5.0)
    assert "MASTER_DETECTION" not in scheduler_warnings(h)


def test_master_problems_raise_and_clear_warnings_in_the_core():
    state = CoreState(hostname="sched", now=100.0)
    apply(state, MasterProblems(ghosts=("F-2 (name 'scale', active)",), detection="no leader in zk://zk1/mesos"), 100.0)
    assert state.warnings.names() == {"GHOST_FRAMEWORK", "MASTER_DETECTION"}
    apply(state, MasterProblems(ghosts=None, detection=None), 101.0)  # frameworks not read: ghosts stay
    assert state.warnings.names() == {"GHOST_FRAMEWORK"}
    apply(state, MasterProblems(ghosts=(), detection=None), 102.0)
    assert state.warnings.names() == set()
    apply(state, MasterProblems(frameworks_error="GET /master/frameworks call failed: 503"), 103.0)
    assert state.warnings.names() == {"MASTER_FRAMEWORKS_UNREAD"}
    apply(state, MasterProblems(), 104.0)
    assert state.warnings.names() == set()


def test_many_ghosts_are_listed_briefly():
    state = CoreState(hostname="sched", now=100.0)
    ghosts = tuple(f"F-{i} (name 'scale', inactive)" for i in range(12))
    apply(state, MasterProblems(ghosts=ghosts), 100.0)
    (warning,) = state.warnings.active(100.0)
    assert "F-4 " in warning["description"] and "F-5 " not in warning["description"]
    assert warning["description"].endswith("; and 7 more")


async def test_a_real_detector_not_connected_yet_is_shown(h):
    from scheduler.mesos.master_detector import detector_for

    h.engine.listings.detector = detector_for("zk://127.0.0.1:1/mesos", "http", lambda url: None)  # never started
    await poll(h, advance_s=5.0)
    assert "not connected to ZooKeeper" in scheduler_warnings(h)["MASTER_DETECTION"]


async def test_a_slow_listing_is_read_again_only_after_twenty_times_what_it_took(h):
    """10,000 agents: the master takes long to list them, and every call waits meanwhile."""
    reads: list[str] = []
    answer = h.driver.get_master_json

    async def slow_master(path, read=None):
        reads.append(path)
        h.clock.now += 1.5 if path == "/master/slaves" else 2.0  # the time the answer took
        return await answer(path, read)

    operator_answer = h.driver.operator_call

    async def slow_operator_api(call, read=None):
        reads.append(call["type"])
        h.clock.now += 2.0
        return await operator_answer(call, read)

    h.driver.get_master_json = slow_master
    h.driver.operator_call = slow_operator_api
    h.driver.master_json["/master/slaves"] = {"slaves": [], "recovered_slaves": []}
    h.driver.operator_answers["GET_FRAMEWORKS"] = frameworks()
    await poll(h)
    assert reads == ["/master/slaves", "GET_FRAMEWORKS"]
    for _ in range(5):  # the configured interval (5 s) passes five times: 25 s, less than 20 x 1.5 s
        await poll(h, advance_s=5.0)
    assert reads.count("/master/slaves") == 1
    await poll(h, advance_s=5.0)
    assert reads.count("/master/slaves") == 2
    # At the next poll the frameworks were read 38.5 s before (the reads' own time counts): past the
    # ghost check's 30 s, short of 20 x 2 s; at the one after, 43.5 s.
    await poll(h, advance_s=5.0)
    assert reads.count("GET_FRAMEWORKS") == 1
    await poll(h, advance_s=5.0)
    assert reads.count("GET_FRAMEWORKS") == 2


async def test_a_large_listing_of_agents_is_handed_to_the_core_in_parts(h, monkeypatch):
    """10,000 agents took 30-90 ms to take in, in one input: parts of AGENTS_PER_INPUT instead."""
    from scheduler.core.inputs import AgentsListed
    from scheduler.runtime import engine as engine_module

    monkeypatch.setattr(engine_module, "AGENTS_PER_INPUT", 2)
    agent = {"active": True, "resources": {"cpus": 4.0, "mem": 1024.0}, "used_resources": {"cpus": 1.0}}
    slaves = [{"id": f"S-part-{i}", "hostname": f"part-{i}", **agent} for i in range(5)]
    h.driver.master_json["/master/slaves"] = {"slaves": slaves, "recovered_slaves": []}
    h.driver.operator_answers["GET_FRAMEWORKS"] = frameworks()
    h.clock.now += GHOST_CHECK_INTERVAL_S
    await h.engine._poll_master()
    posted = [item for item in h.engine._inputs if isinstance(item, AgentsListed)]
    assert [[r.hostname for r in item.reports] for item in posted] == [
        ["part-0", "part-1"],
        ["part-2", "part-3"],
        ["part-4"],
    ]
    await h.run_until_idle()
    assert all(h.state.nodes.get(f"part-{i}").online for i in range(5))
    assert h.state.master_agents_at == h.clock.now


async def test_an_unreadable_listing_of_agents_is_read_again_as_late_as_a_readable_one(h):
    """The master built it (and every call waited) whether or not we can read it."""
    reads: list[str] = []
    answer = h.driver.get_master_json

    async def slow_master(path, read=None):
        reads.append(path)
        h.clock.now += 1.5  # the time the answer took
        return await answer(path, read)

    h.driver.get_master_json = slow_master
    h.driver.master_json["/master/slaves"] = {"agents": []}  # no 'slaves' list
    h.driver.operator_answers["GET_FRAMEWORKS"] = frameworks()
    await poll(h)
    assert reads.count("/master/slaves") == 1 and h.engine.listings.error == "the answer has no 'slaves' list"
    await poll(h, advance_s=25.0)  # 26.5 s after the read began: short of 20 x 1.5 s
    assert reads.count("/master/slaves") == 1
    await poll(h, advance_s=5.0)
    assert reads.count("/master/slaves") == 2


async def test_an_unreadable_agents_listing_is_a_warning_until_a_read_succeeds(h):
    del h.driver.master_json["/master/slaves"]  # the master answers 404
    await poll(h)
    description = scheduler_warnings(h)["MASTER_AGENTS_UNREAD"]
    assert description.startswith("Cannot read the Mesos master's agents (GET /master/slaves call failed: 404")
    assert description.endswith("node resources and states come from offers only")
    h.driver.master_json["/master/slaves"] = {"slaves": []}
    await poll(h)
    assert "MASTER_AGENTS_UNREAD" not in scheduler_warnings(h)


@pytest.mark.parametrize("warning", ["MASTER_AGENTS_UNREAD", "MASTER_FRAMEWORKS_UNREAD"])
async def test_the_masters_words_in_those_warnings_are_printable_and_bounded(h, warning):
    class Hostile:
        async def __call__(self, path, read=None):
            raise CallError("GET " + path, 500, "\x1b[31mred\r\n" + "x" * 5000)

    h.driver.get_master_json = Hostile()
    h.driver.operator_call = lambda call, read=None: Hostile()("/api/v1", read)
    await poll(h)
    description = scheduler_warnings(h)[warning]
    assert "\x1b" not in description and "\r" not in description and "\n" not in description
    assert len(description) < 400


async def test_an_unreadable_frameworks_listing_is_a_warning_until_a_read_succeeds(h):
    h.driver.operator_answers["GET_FRAMEWORKS"] = 503  # no ghost check
    await poll(h)
    description = scheduler_warnings(h)["MASTER_FRAMEWORKS_UNREAD"]
    assert description.startswith("Cannot read the Mesos master's frameworks (POST /api/v1 call failed: 503")
    await poll(h, advance_s=5.0)  # a round that does not read the frameworks: the warning stands
    assert "MASTER_FRAMEWORKS_UNREAD" in scheduler_warnings(h)
    h.driver.operator_answers["GET_FRAMEWORKS"] = frameworks()
    await poll(h)
    assert "MASTER_FRAMEWORKS_UNREAD" not in scheduler_warnings(h)


@pytest.mark.parametrize("status", [404, 405, 501])
async def test_a_master_without_the_operator_api_is_read_through_master_frameworks(h, caplog, status):
    """GET_FRAMEWORKS answered as a master (or a proxy) without it answers: /master/frameworks, from then on."""
    calls: list[str] = []
    operator_answer, listing_answer = h.driver.operator_call, h.driver.get_master_json

    async def operator_api(call, read=None):
        calls.append(call["type"])
        return await operator_answer(call, read)

    async def listings(path, read=None):
        calls.append(path)
        return await listing_answer(path, read)

    h.driver.operator_call, h.driver.get_master_json = operator_api, listings
    h.driver.operator_answers["GET_FRAMEWORKS"] = status
    ghost = {"id": "F-0", "name": "scale", "active": False, "tasks": [{}, {}]}
    h.driver.master_json["/master/frameworks"] = listing(ghost)
    await poll(h)
    assert calls == ["/master/slaves", "GET_FRAMEWORKS", "/master/frameworks"]
    assert "F-0 (name 'scale', inactive, 2 tasks)" in scheduler_warnings(h)["GHOST_FRAMEWORK"]
    assert "MASTER_FRAMEWORKS_UNREAD" not in scheduler_warnings(h)
    fallbacks = [r for r in caplog.records if "does not answer GET_FRAMEWORKS" in r.getMessage()]
    assert len(fallbacks) == 1 and f"call failed: {status}" in fallbacks[0].getMessage()
    await poll(h)  # the next check goes straight to /master/frameworks
    assert calls[3:] == ["/master/slaves", "/master/frameworks"]


async def test_a_new_leader_is_asked_for_get_frameworks_again(h, caplog):
    """The fallback holds for the master that refused: after a failover the new leader may have the
    operator API (a mixed-version cluster mid-upgrade), and is asked for it first."""
    calls: list[str] = []
    operator_answer = h.driver.operator_call

    async def operator_api(call, read=None):
        calls.append(f"{h.driver.master_url} {call['type']}")
        return await operator_answer(call, read)

    h.driver.operator_call = operator_api
    h.driver.operator_answers["GET_FRAMEWORKS"] = 404
    await poll(h)
    await poll(h)
    assert calls == ["http://master-1:5050 GET_FRAMEWORKS"]
    h.driver.master_url = "http://master-2:5050"
    h.driver.operator_answers["GET_FRAMEWORKS"] = frameworks({"id": "F-4", "name": "scale", "active": True})
    await poll(h)
    assert calls[1:] == ["http://master-2:5050 GET_FRAMEWORKS"]
    assert "F-4 (name 'scale', active, holding nothing)" in scheduler_warnings(h)["GHOST_FRAMEWORK"]
    h.driver.master_url = "http://master-1:5050"  # failed back to the old one: no longer known to refuse
    h.driver.operator_answers["GET_FRAMEWORKS"] = 404
    await poll(h)
    await poll(h)
    assert calls[2:] == ["http://master-1:5050 GET_FRAMEWORKS"]
    fallbacks = [r.getMessage() for r in caplog.records if "does not answer GET_FRAMEWORKS" in r.getMessage()]
    assert len(fallbacks) == 2 and all("http://master-1:5050" in line for line in fallbacks)


async def test_a_failing_operator_api_is_a_warning_and_tried_again(h):
    """503 (no leader), a timeout: the master has the operator API, the read failed; no fallback."""
    calls: list[str] = []
    operator_answer = h.driver.operator_call

    async def operator_api(call, read=None):
        calls.append(call["type"])
        return await operator_answer(call, read)

    h.driver.operator_call = operator_api
    h.driver.operator_answers["GET_FRAMEWORKS"] = 503
    await poll(h)
    assert "MASTER_FRAMEWORKS_UNREAD" in scheduler_warnings(h)
    h.driver.operator_answers["GET_FRAMEWORKS"] = frameworks({"id": "F-3", "name": "scale", "active": True})
    await poll(h)
    assert calls == ["GET_FRAMEWORKS", "GET_FRAMEWORKS"]
    assert "F-3 (name 'scale', active, holding nothing)" in scheduler_warnings(h)["GHOST_FRAMEWORK"]
    assert "MASTER_FRAMEWORKS_UNREAD" not in scheduler_warnings(h)


async def test_an_answer_that_is_not_get_frameworks_is_a_warning(h):
    h.driver.operator_answers["GET_FRAMEWORKS"] = {"type": "GET_FRAMEWORKS", "get_frameworks": {"frameworks": {}}}
    await poll(h)
    assert "get_frameworks.frameworks is not a list" in scheduler_warnings(h)["MASTER_FRAMEWORKS_UNREAD"]
