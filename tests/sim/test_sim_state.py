"""state.py driven directly with made-up times: no server, no asyncio."""

from __future__ import annotations

import base64
import math

import pytest

from scheduler.sim.options import SimConfig
from scheduler.sim.resources import Resources
from scheduler.sim.state import ControlError, MasterState, refuse_seconds
from scheduler.sim.timers import FAILOVER, RETRY, STEP, TimerHeap

T0 = 1_000_000.0
CONFIG = SimConfig(
    agents=2,
    task_start_delay_s=1.0,
    task_duration_s=10.0,
    update_retry_s=5.0,
    allocation_interval_s=1.0,
    kill_delay_s=0.5,
)


def _subscribe(state, t=T0, stream="s1", framework_id=None, **info):
    framework_info = {"user": "u", "name": "n", "failover_timeout": 60.0, **info}
    call = {"type": "SUBSCRIBE", "subscribe": {"framework_info": framework_info}}
    if framework_id:
        framework_info["id"] = {"value": framework_id}
    result = state.subscribe(t, call, stream)
    assert result.refusal is None
    return result


def _offers(fx):
    return [o for _, e in fx.events if e["type"] == "OFFERS" for o in e["offers"]["offers"]]


def _updates(fx):
    return [e["update"]["status"] for _, e in fx.events if e["type"] == "UPDATE"]


def _launch(offer, task_id, cpus=1.0, **extra):
    return {
        "offer_ids": [offer["id"]],
        "operations": [
            {
                "type": "LAUNCH",
                "launch": {
                    "task_infos": [
                        {
                            "name": task_id,
                            "task_id": {"value": task_id},
                            "agent_id": offer["agent_id"],
                            "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}}],
                            "command": {"value": "true"},
                            **extra,
                        }
                    ]
                },
            }
        ],
    }


def _uuid(status):
    return base64.b64decode(status["uuid"])


def test_full_task_lifecycle_with_acknowledgements():
    state = MasterState(CONFIG, T0)
    sub = _subscribe(state)
    fid = sub.framework_id
    assert sub.subscribed["subscribed"]["framework_id"] == {"value": fid}

    fx = state.allocate(T0 + 1)
    offers = _offers(fx)
    assert len(offers) == 2
    assert _offers(state.allocate(T0 + 2)) == []  # outstanding: not offered again

    fx = state.accept(T0 + 2, fid, _launch(offers[0], "t1"))
    assert fx.events == [] and fx.wake_at == T0 + 3
    agent = state.agents[offers[0]["agent_id"]["value"]]
    assert agent.task_used.cpus == 1.0
    assert agent.available().cpus == 3.0

    starting = _updates(state.advance(T0 + 3))
    assert [s["state"] for s in starting] == ["TASK_STARTING"]
    # RUNNING happens at T0+4 but waits for the acknowledgement of STARTING.
    assert _updates(state.advance(T0 + 4.5)) == []
    task = state.frameworks[fid].tasks["t1"]
    assert task.state == "TASK_RUNNING" and task.status_update_state == "TASK_STARTING"
    assert _updates(state.advance(T0 + 8)) == starting  # re-sent after update_retry_s

    running = _updates(state.acknowledge(T0 + 8.1, fid, agent.id, "t1", _uuid(starting[0])))
    assert [s["state"] for s in running] == ["TASK_RUNNING"]
    # The retry timer of STARTING is dead: nothing at T0+13 but RUNNING's own retry.
    assert [s["state"] for s in _updates(state.advance(T0 + 13.1))] == ["TASK_RUNNING"]

    # Finished at T0+14 (RUNNING at T0+4 plus 10 s): resources freed at once.
    assert _updates(state.advance(T0 + 14)) == []
    assert task.state == "TASK_FINISHED"
    assert agent.task_used.cpus == 0.0
    finished = _updates(state.acknowledge(T0 + 15, fid, agent.id, "t1", _uuid(running[0])))
    assert finished[0]["state"] == "TASK_FINISHED"
    assert finished[0]["message"] == "Command exited with status 0"
    state.acknowledge(T0 + 15, fid, agent.id, "t1", _uuid(finished[0]))
    assert "t1" not in state.frameworks[fid].tasks
    assert state.next_deadline() is not None  # stale timers may remain; they do nothing
    assert _updates(state.advance(T0 + 100)) == []


def test_decline_filter_and_expiry():
    state = MasterState(CONFIG, T0)
    fid = _subscribe(state).framework_id
    offers = _offers(state.allocate(T0))
    state.decline(T0, fid, {"offer_ids": [offers[0]["id"]], "filters": {"refuse_seconds": 10}})
    state.decline(T0, fid, {"offer_ids": [offers[1]["id"]], "filters": {"refuse_seconds": 0}})
    again = _offers(state.allocate(T0 + 1))
    assert [o["agent_id"] for o in again] == [offers[1]["agent_id"]]
    assert _offers(state.allocate(T0 + 9.9)) == []
    assert [o["agent_id"] for o in _offers(state.allocate(T0 + 10))] == [offers[0]["agent_id"]]


def test_filter_only_holds_back_the_refused_resources():
    state = MasterState(CONFIG.replace(agents=1), T0)
    fid = _subscribe(state).framework_id
    offer = _offers(state.allocate(T0))[0]
    # Launch 1 cpu, decline the rest for an hour.
    state.accept(T0, fid, {**_launch(offer, "t1"), "filters": {"refuse_seconds": 3600}})
    assert _offers(state.allocate(T0 + 1)) == []
    # The task is killed: 4 cpus free now is more than the refused 3, so it is offered.
    state.advance(T0 + 1)
    state.kill(T0 + 1, fid, "t1")
    state.advance(T0 + 2)
    assert state.frameworks[fid].tasks["t1"].state == "TASK_KILLED"
    assert [o["resources"][0]["scalar"]["value"] for o in _offers(state.allocate(T0 + 3))] == [4.0]


def test_refuse_seconds_rules():
    assert refuse_seconds(None) == 5.0
    assert refuse_seconds({}) == 5.0
    assert refuse_seconds({"refuse_seconds": 0.0}) == 0.0
    assert refuse_seconds({"refuse_seconds": -3.0}) == 5.0
    assert refuse_seconds({"refuse_seconds": math.nan}) == 5.0
    assert refuse_seconds({"refuse_seconds": 1e12}) == 365 * 24 * 3600.0
    assert refuse_seconds({"refuse_seconds": math.inf}) == 365 * 24 * 3600.0


def test_accept_validation_and_task_error():
    state = MasterState(CONFIG, T0)
    fid = _subscribe(state).framework_id
    offers = _offers(state.allocate(T0))
    fx = state.accept(T0, fid, _launch(offers[0], "big", cpus=5))
    [status] = _updates(fx)
    assert status["state"] == "TASK_ERROR" and "uuid" not in status
    assert status["message"].startswith("Total resources cpus(allocated: *):5")
    fx = state.accept(T0, fid, _launch(offers[1], "t", cpus=1))
    fx = state.accept(T0, fid, _launch(offers[1], "t2"))  # same offer again
    [status] = _updates(fx)
    assert (status["state"], status["reason"]) == ("TASK_LOST", "REASON_INVALID_OFFERS")


def test_disconnect_failover_and_removal():
    state = MasterState(CONFIG, T0)
    fid = _subscribe(state, failover_timeout=30.0).framework_id
    offer = _offers(state.allocate(T0))[0]
    state.accept(T0, fid, _launch(offer, "t1"))
    fx = state.disconnect(T0 + 1, fid, "not-the-stream")
    assert state.frameworks[fid].connected
    fx = state.disconnect(T0 + 1, fid, "s1")
    assert fx.wake_at == T0 + 31
    assert not state.frameworks[fid].connected
    assert _offers(state.allocate(T0 + 2)) == []  # disconnected frameworks get no offers
    state.advance(T0 + 30.9)
    assert fid in state.frameworks
    state.advance(T0 + 31)
    assert fid not in state.frameworks and fid in state.removed_framework_ids
    assert all(a.task_used.cpus == 0 for a in state.agents.values())
    refused = state.subscribe(
        T0 + 32,
        {
            "type": "SUBSCRIBE",
            "framework_id": {"value": fid},
            "subscribe": {"framework_info": {"user": "u", "name": "n", "id": {"value": fid}}},
        },
        "s2",
    )
    assert refused.refusal == "Framework has been removed"


def test_failover_to_new_stream_closes_the_old_one():
    state = MasterState(CONFIG, T0)
    fid = _subscribe(state).framework_id
    result = _subscribe(state, T0 + 1, stream="s2", framework_id=fid)
    assert [(c.stream_id, c.error) for c in result.effects.closes] == [("s1", "Framework failed over")]
    assert state.frameworks[fid].stream_id == "s2"


def test_agent_removal_and_usage():
    state = MasterState(CONFIG, T0)
    fid = _subscribe(state, capabilities=[{"type": "PARTITION_AWARE"}]).framework_id
    offers = _offers(state.allocate(T0))
    agent_id = offers[0]["agent_id"]["value"]
    fx = state.set_usage(T0, agent_id, Resources(cpus=3.0))
    assert [e["type"] for _, e in fx.events] == ["RESCIND"]
    [offer] = _offers(state.allocate(T0 + 1))
    assert offer["resources"][0] == {"name": "cpus", "type": "SCALAR", "scalar": {"value": 1.0}, "role": "*"}
    state.accept(T0 + 1, fid, _launch(offer, "t1"))
    fx = state.remove_agent(T0 + 2, agent_id)
    types = [e["type"] for _, e in fx.events]
    assert types == ["UPDATE", "FAILURE"]
    assert _updates(fx)[0]["state"] == "TASK_UNREACHABLE"
    with pytest.raises(ControlError) as err:
        state.remove_agent(T0 + 3, agent_id)
    assert err.value.status == 404


def test_master_failover_keeps_tasks_and_agents():
    state = MasterState(CONFIG, T0)
    fid = _subscribe(state).framework_id
    offer = _offers(state.allocate(T0))[0]
    state.accept(T0, fid, _launch(offer, "t1"))
    old_id = state.master_id
    fx = state.master_failover(T0 + 1)
    assert [(c.stream_id, c.abort) for c in fx.closes] == [("s1", True)]
    assert state.master_id != old_id and not state.offers
    assert state.next_deadline() is not None
    state.advance(T0 + 100)  # no failover timer after a master failover
    assert fid in state.frameworks
    _subscribe(state, T0 + 101, stream="s2", framework_id=fid)
    assert "t1" in state.frameworks[fid].tasks


def test_seeded_ids_are_reproducible():
    a = MasterState(CONFIG, T0)
    b = MasterState(CONFIG, T0 + 5)
    assert a.master_id == b.master_id
    assert list(a.agents) == list(b.agents)
    c = MasterState(CONFIG.replace(seed=1), T0)
    assert c.master_id != a.master_id


def test_timer_heap_fires_in_due_order_and_refuses_unknown_kinds():
    heap = TimerHeap()
    heap.push(2.0, STEP, ("b",))
    heap.push(1.0, RETRY, ("a",))
    heap.push(2.0, FAILOVER, ("c",))  # same due time: fires after the one armed first
    assert heap.next_deadline() == 1.0
    assert list(heap.pop_due(1.5)) == [(1.0, RETRY, ("a",))]
    assert list(heap.pop_due(2.0)) == [(2.0, STEP, ("b",)), (2.0, FAILOVER, ("c",))]
    assert heap.next_deadline() is None
    with pytest.raises(ValueError, match="unknown timer kind"):
        heap.push(3.0, "_on_step", ())
