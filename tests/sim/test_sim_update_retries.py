"""Agents re-send unacknowledged updates as Mesos 1.11's TaskStatusUpdateManager does (10 s,
doubling to 10 min; at once on resume), and reconciliation answers carry no exit status."""

from __future__ import annotations

from test_sim_state import CONFIG, T0, _launch, _offers, _subscribe, _updates, _uuid

from scheduler.sim.state import MasterState

RCONFIG = CONFIG.replace(update_retry_s=10.0, update_retry_max_s=40.0)


def _started(config=RCONFIG):
    state = MasterState(config, T0)
    fid = _subscribe(state).framework_id
    offer = _offers(state.allocate(T0 + 1))[0]
    state.accept(T0 + 1, fid, _launch(offer, "t1"))
    [first] = _updates(state.advance(T0 + 2))
    assert first["state"] == "TASK_STARTING"
    return state, fid, first


def _resend_times(state, until):
    times = []
    t = state.next_deadline()
    while t is not None and t <= until:
        if _updates(state.advance(t)):
            times.append(t - T0)
        t = state.next_deadline()
    return times


def test_unacknowledged_update_is_resent_with_exponential_backoff_to_the_cap():
    state, _, first = _started()
    # Sent at 2; re-sent after 10, 20, 40, 40, 40 s (capped).
    assert _resend_times(state, T0 + 200) == [12, 32, 72, 112, 152, 192]


def test_resubscription_resends_at_once_and_restarts_the_backoff():
    state, fid, first = _started()
    assert _resend_times(state, T0 + 72) == [12, 32, 72]
    sub = _subscribe(state, t=T0 + 80, stream="s2", framework_id=fid)
    [again] = _updates(sub.effects)
    assert again["uuid"] == first["uuid"]
    assert _resend_times(state, T0 + 125) == [90, 110]


def test_reconciliation_answers_the_latest_state_without_the_exit_status():
    state, fid, first = _started()
    state.acknowledge(T0 + 2, fid, first["agent_id"]["value"], "t1", _uuid(first))
    [running] = _updates(state.advance(T0 + 3))
    state.acknowledge(T0 + 3, fid, running["agent_id"]["value"], "t1", _uuid(running))
    state.disconnect(T0 + 3.5, fid, "s1")  # the scheduler goes away (failover timeout 60 s)
    state.end_task(T0 + 4, state.frameworks[fid].tasks["t1"], {"exit_code": 2})
    sub = _subscribe(state, t=T0 + 20, stream="s2", framework_id=fid)
    [resent] = _updates(sub.effects)  # the agent resumes: its own update, with the exit status
    assert (resent["message"], "uuid" in resent) == ("Command exited with status 2", True)
    [answer] = _updates(state.reconcile(T0 + 21, fid, []))
    assert answer == {
        "task_id": {"value": "t1"},
        "state": "TASK_FAILED",
        "source": "SOURCE_MASTER",
        "message": "Reconciliation: Latest task state",
        "reason": "REASON_RECONCILIATION",
        "agent_id": resent["agent_id"],
        "timestamp": T0 + 21,
    }
