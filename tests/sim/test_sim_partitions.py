"""Partitions on the fake clock, with the answers of Mesos 1.11 (markUnreachable, _reregisterSlave)."""

from __future__ import annotations

import pytest
from test_sim_state import CONFIG, T0, _launch, _offers, _subscribe, _updates, _uuid

from scheduler.sim.effects import ControlError
from scheduler.sim.state import MasterState

PING = 2.0  # x 3 timeouts: unreachable 6 s after the partition
PCONFIG = CONFIG.replace(agent_ping_timeout_s=PING, max_agent_ping_timeouts=3, task_duration_s=100.0)
PA = [{"type": "PARTITION_AWARE"}]


def _running_task(partition_aware: bool):
    """A master with one framework whose task t1 is RUNNING (updates acknowledged) at T0 + 3."""
    state = MasterState(PCONFIG, T0)
    fid = _subscribe(state, **({"capabilities": PA} if partition_aware else {})).framework_id
    offer = _offers(state.allocate(T0 + 1))[0]
    state.accept(T0 + 1, fid, _launch(offer, "t1"))
    for t in (T0 + 2, T0 + 3):
        [status] = _updates(state.advance(t))
        state.acknowledge(t, fid, status["agent_id"]["value"], "t1", _uuid(status))
    assert status["state"] == "TASK_RUNNING"
    return state, fid, offer["agent_id"]["value"]


@pytest.mark.parametrize("partition_aware, seen", [(True, "TASK_UNREACHABLE"), (False, "TASK_LOST")])
def test_partition_past_the_ping_timeouts_then_heal(partition_aware, seen):
    state, fid, agent = _running_task(partition_aware)
    fx = state.partition(T0 + 10, agent)
    assert fx.events == [] and fx.wake_at == T0 + 16
    assert state.advance(T0 + 15.9).events == []  # still pinging
    fx = state.advance(T0 + 16)
    [update] = _updates(fx)
    assert update == {
        "task_id": {"value": "t1"},
        "state": seen,
        "source": "SOURCE_MASTER",
        "reason": "REASON_AGENT_REMOVED",
        "message": "health check timed out",
        "agent_id": {"value": agent},
        "timestamp": T0 + 16,
        "unreachable_time": {"nanoseconds": int((T0 + 16) * 1e9)},
    }
    assert (fid, {"type": "FAILURE", "failure": {"agent_id": {"value": agent}}}) in fx.events
    [recon] = _updates(state.reconcile(T0 + 17, fid, []))
    assert (recon["state"], recon["message"]) == (seen, "Reconciliation: Task is unreachable")
    assert all(o["agent_id"]["value"] != agent for o in _offers(state.allocate(T0 + 18)))

    fx = state.heal(T0 + 30, agent)
    [update] = _updates(fx)
    assert (update["state"], update["source"], update["reason"], update["message"]) == (
        "TASK_RUNNING",
        "SOURCE_MASTER",
        "REASON_AGENT_REREGISTERED",
        "Unreachable agent re-reregistered",
    )
    assert "uuid" not in update
    assert state.frameworks[fid].tasks["t1"].state == "TASK_RUNNING"  # it ran on, never rerun
    [final] = _updates(state.advance(T0 + 103))
    assert (final["state"], "uuid" in final) == ("TASK_FINISHED", True)


def test_healed_before_the_timeout_nothing_is_reported_and_held_updates_follow():
    state, fid, agent = _running_task(True)
    state.partition(T0 + 10, agent)
    state.end_task(T0 + 11, state.frameworks[fid].tasks["t1"], {"exit_code": 2})  # ends while cut off
    assert _updates(state.advance(T0 + 15)) == []  # the agent's update cannot pass
    fx = state.heal(T0 + 15, agent)
    [update] = _updates(fx)
    assert (update["state"], update["message"], "uuid" in update) == (
        "TASK_FAILED",
        "Command exited with status 2",
        True,
    )
    later = _updates(state.advance(T0 + 60))  # past the would-be timeout: only re-sends of the same update
    assert later and all(u["state"] == "TASK_FAILED" and u["uuid"] == update["uuid"] for u in later)
    state.acknowledge(T0 + 60, fid, agent, "t1", _uuid(update))
    assert "t1" not in state.frameworks[fid].tasks


def test_partitioned_agent_loses_acks_and_kills_and_gets_no_offers():
    state, fid, agent = _running_task(True)
    state.partition(T0 + 10, agent)
    assert state.kill(T0 + 11, fid, "t1").events == []
    assert all(o["agent_id"]["value"] != agent for o in _offers(state.allocate(T0 + 12)))
    state.heal(T0 + 13, agent)
    assert any(o["agent_id"]["value"] == agent for o in _offers(state.allocate(T0 + 14)))
    assert state.frameworks[fid].tasks["t1"].state == "TASK_RUNNING"  # the lost kill did nothing


def test_partition_and_heal_are_refused_twice():
    state, _, agent = _running_task(True)
    with pytest.raises(ControlError) as caught:
        state.heal(T0 + 5, agent)
    assert caught.value.status == 409
    state.partition(T0 + 5, agent)
    with pytest.raises(ControlError):
        state.partition(T0 + 6, agent)
    with pytest.raises(ControlError) as caught:
        state.partition(T0 + 6, "nope")
    assert caught.value.status == 404


async def test_partition_endpoints(make_sim):
    handle, client = await make_sim(agents=1, agent_ping_timeout_s=0.05, max_agent_ping_timeouts=2)
    agent = next(iter(handle.state.agents))
    status, body = await client.control("POST", f"/sim/agents/{agent}/partition", {})
    assert (status, body["unreachable_in_seconds"]) == (200, 0.1)
    status, state = await client.control("GET", "/sim/state")
    assert state["agents"]["partitioned"] == [agent]
    status, body = await client.control("POST", f"/sim/agents/{agent}/partition", {})
    assert status == 409
    async with client.session.post(client.url + f"/sim/agents/{agent}/heal") as resp:
        assert resp.status == 415  # JSON content type required, even without a body
    status, body = await client.control("POST", f"/sim/agents/{agent}/heal", {})
    assert status == 200 and body["partitioned"] is False
