"""SUPPRESS and REVIVE are honoured as Mesos 1.11's allocator does (suppressRoles / reviveRoles)
and counted per framework in /sim/state, with the offers sent."""

from __future__ import annotations

from test_sim_state import CONFIG, T0, _offers, _subscribe

from scheduler.sim.state import MasterState


def _decline_all(state, fid, offers, t, seconds):
    state.decline(t, fid, {"offer_ids": [o["id"] for o in offers], "filters": {"refuse_seconds": seconds}})


def test_suppressed_framework_gets_no_offers_until_revive():
    state = MasterState(CONFIG, T0)
    fid = _subscribe(state).framework_id
    offers = _offers(state.allocate(T0 + 1))
    assert len(offers) == 2
    state.suppress(T0 + 1, fid, [])
    _decline_all(state, fid, offers, T0 + 1, 0)  # no filter: only the suppression holds them back
    for minute in range(1, 61):  # an hour of allocation cycles on the fake clock
        assert _offers(state.allocate(T0 + 60 * minute)) == []
    state.revive(T0 + 3601, fid, [])
    assert len(_offers(state.allocate(T0 + 3602))) == 2


def test_revive_clears_decline_filters():
    state = MasterState(CONFIG, T0)
    fid = _subscribe(state).framework_id
    _decline_all(state, fid, _offers(state.allocate(T0 + 1)), T0 + 1, 3600)
    assert _offers(state.allocate(T0 + 100)) == []  # held by the one-hour filter
    state.revive(T0 + 101, fid, [])
    assert len(_offers(state.allocate(T0 + 102))) == 2


def test_suppress_keeps_outstanding_offers():
    state = MasterState(CONFIG, T0)
    fid = _subscribe(state).framework_id
    offers = _offers(state.allocate(T0 + 1))
    fx = state.suppress(T0 + 2, fid, [])
    assert fx.events == []  # no RESCIND: suppression only stops new offers
    assert len(state.frameworks[fid].offers) == len(offers) == 2


async def test_calls_and_offers_are_counted_per_framework(sim):
    handle, client = sim
    sub = await client.subscribe()
    offers = (await sub.expect("OFFERS"))["offers"]["offers"]
    assert await client.call(sub, {"type": "SUPPRESS"}) == (202, "")
    assert await client.call(sub, {"type": "SUPPRESS", "suppress": {"roles": ["*"]}}) == (202, "")
    await client.decline(sub, [o["id"]["value"] for o in offers], refuse_seconds=0)
    assert await client.call(sub, {"type": "REVIVE"}) == (202, "")
    await sub.expect("OFFERS")
    status, body = await client.control("GET", "/sim/state")
    [fw] = body["frameworks"]
    assert fw["calls"] == {"DECLINE": 1, "REVIVE": 1, "SUBSCRIBE": 1, "SUPPRESS": 2}
    assert fw["offers_sent"] == handle.state.frameworks[sub.framework_id].offers_sent >= 6
    # Refused calls are not counted.
    assert (await client.call(sub, {"type": "REVIVE"}, stream_id="wrong"))[0] == 400
    status, body = await client.control("GET", "/sim/state")
    assert body["frameworks"][0]["calls"]["REVIVE"] == 1
