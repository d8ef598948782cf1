"""Framework failover and removal, teardown, agent loss, master restart, silence."""

from __future__ import annotations

import asyncio
import json

from simkit import API, JSON, framework_info, task_info

PA = framework_info(capabilities=[{"type": "PARTITION_AWARE"}])


async def _offers(sub, timeout=2.0):
    return (await sub.expect("OFFERS", timeout))["offers"]["offers"]


async def _running(client, sub, offer, task_id, refuse_seconds=None, **kw):
    await client.accept(sub, [offer["id"]["value"]], [task_info(offer, task_id, **kw)], refuse_seconds=refuse_seconds)
    for expected in ("TASK_STARTING", "TASK_RUNNING"):
        status = (await sub.updates(1, task_id=task_id))[0]
        assert status["state"] == expected
        await client.ack(sub, status)


async def _until(predicate, timeout=2.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


async def _used_cpus(client, agent_id):
    _, slaves = await client.get_json("/master/slaves")
    return [s for s in slaves["slaves"] if s["id"] == agent_id][0]["used_resources"]["cpus"]


async def test_resubscribe_within_failover_timeout_keeps_tasks(sim):
    handle, client = sim
    sub = await client.subscribe()
    offers = await _offers(sub)
    await _running(client, sub, offers[0], "t1")
    fid = sub.framework_id
    await sub.close()
    fw = handle.state.frameworks[fid]
    await _until(lambda: not fw.connected)
    assert fw.offers == set()  # offers never survive a disconnect
    assert fw.failover_deadline is not None

    again = await client.subscribe(framework_id=fid)
    assert again.framework_id == fid
    assert again.stream_id != sub.stream_id
    await client.call(again, {"type": "RECONCILE", "reconcile": {}})
    status = (await again.updates(1))[0]
    assert (status["task_id"]["value"], status["state"]) == ("t1", "TASK_RUNNING")
    # Old offer ids are invalid now.
    await client.accept(again, [offers[1]["id"]["value"]], [task_info(offers[1], "t2")])
    lost = (await again.updates(1, task_id="t2"))[0]
    assert lost["state"] == "TASK_LOST" and lost["reason"] == "REASON_INVALID_OFFERS"
    assert await _offers(again)  # offers are regenerated


async def test_unacknowledged_update_is_resent_after_resubscribe(make_sim):
    _, client = await make_sim(update_retry_s=30.0)
    sub = await client.subscribe()
    offer = (await _offers(sub))[0]
    await client.accept(sub, [offer["id"]["value"]], [task_info(offer, "t1")])
    starting = (await sub.updates(1))[0]
    await sub.close()
    await asyncio.sleep(0.05)
    again = await client.subscribe(framework_id=sub.framework_id)
    first = await again.next(timeout=0.5)
    assert first["type"] == "UPDATE"
    assert first["update"]["status"] == starting  # same uuid, re-sent promptly
    await client.ack(again, starting)
    assert (await again.updates(1, timeout=0.5))[0]["state"] == "TASK_RUNNING"


async def test_new_subscription_fails_over_the_open_one(sim):
    handle, client = sim
    old = await client.subscribe()
    new = await client.subscribe(framework_id=old.framework_id)
    error = await old.expect("ERROR")
    assert error == {"type": "ERROR", "error": {"message": "Framework failed over"}}
    await old.wait_ended()
    status, text = await client.call(old, {"type": "REVIVE"})
    assert status == 400 and text.startswith(f"The stream ID '{old.stream_id}'")
    status, _ = await client.call(new, {"type": "REVIVE"})
    assert status == 202
    assert handle.state.frameworks[old.framework_id].stream_id == new.stream_id


async def test_failover_timeout_expiry_removes_framework(sim):
    handle, client = sim
    sub = await client.subscribe(framework_info(failover_timeout=0.3))
    offer = (await _offers(sub))[0]
    agent_id = offer["agent_id"]["value"]
    await _running(client, sub, offer, "t1")
    assert await _used_cpus(client, agent_id) == 1.0
    await sub.close()
    await asyncio.sleep(0.15)
    assert sub.framework_id in handle.state.frameworks  # not yet
    await _until(lambda: sub.framework_id not in handle.state.frameworks, 1.0)
    assert await _used_cpus(client, agent_id) == 0.0  # its tasks were killed

    again = await client.subscribe(framework_id=sub.framework_id, expect_subscribed=False)
    assert again.stream_id
    assert await again.next() == {"type": "ERROR", "error": {"message": "Framework has been removed"}}
    await again.wait_ended()
    status, text = await client.call(sub, {"type": "REVIVE"})
    assert (status, text) == (400, "Framework cannot be found")

    _, state = await client.get_json("/master/state")
    done = [f for f in state["completed_frameworks"] if f["id"] == sub.framework_id][0]
    assert [(t["id"], t["state"]) for t in done["completed_tasks"]] == [("t1", "TASK_KILLED")]


async def test_default_failover_timeout_zero_removes_at_once(sim):
    handle, client = sim
    info = framework_info()
    del info["failover_timeout"]
    sub = await client.subscribe(info)
    await sub.close()
    await _until(lambda: sub.framework_id in handle.state.removed_framework_ids, 1.0)


async def test_teardown(sim):
    handle, client = sim
    sub = await client.subscribe()
    offer = (await _offers(sub))[0]
    await _running(client, sub, offer, "t1")
    status, text = await client.call(sub, {"type": "TEARDOWN"})
    assert (status, text) == (202, "")
    await sub.wait_ended()
    assert sub.framework_id in handle.state.completed_frameworks
    assert await _used_cpus(client, offer["agent_id"]["value"]) == 0.0
    status, text = await client.call(sub, {"type": "REVIVE"})
    assert (status, text) == (400, "Framework cannot be found")
    again = await client.subscribe(framework_id=sub.framework_id, expect_subscribed=False)
    assert (await again.next())["error"]["message"] == "Framework has been removed"


async def test_agent_removal_for_partition_aware_framework(sim):
    handle, client = sim
    sub = await client.subscribe(PA)
    offers = await _offers(sub)
    target = offers[0]
    agent_id = target["agent_id"]["value"]
    await _running(client, sub, target, "t1", refuse_seconds=0)
    leftover = await sub.offers_where(lambda e: any(o["agent_id"]["value"] == agent_id for o in e["offers"]["offers"]))
    leftover_id = [o["id"] for o in leftover["offers"]["offers"] if o["agent_id"]["value"] == agent_id][0]

    status, body = await client.control("DELETE", f"/sim/agents/{agent_id}")
    assert (status, body) == (200, {"removed": agent_id})
    events = [await sub.next() for _ in range(3)]
    assert events[0] == {"type": "RESCIND", "rescind": {"offer_id": leftover_id}}
    update = events[1]["update"]["status"]
    assert update["state"] == "TASK_UNREACHABLE"
    assert update["source"] == "SOURCE_MASTER"
    assert update["reason"] == "REASON_AGENT_REMOVED"
    assert "uuid" not in update
    assert update["unreachable_time"]["nanoseconds"] > 0
    assert events[2] == {"type": "FAILURE", "failure": {"agent_id": {"value": agent_id}}}

    _, slaves = await client.get_json("/master/slaves")
    assert agent_id not in [s["id"] for s in slaves["slaves"]]
    assert len(slaves["slaves"]) == 2

    await client.call(
        sub,
        {
            "type": "RECONCILE",
            "reconcile": {
                "tasks": [
                    {"task_id": {"value": "t1"}, "agent_id": {"value": agent_id}},
                    {"task_id": {"value": "ghost"}, "agent_id": {"value": agent_id}},
                ]
            },
        },
    )
    got = {s["task_id"]["value"]: s for s in await sub.updates(2)}
    assert got["t1"]["state"] == got["ghost"]["state"] == "TASK_UNREACHABLE"
    assert got["t1"]["message"] == "Reconciliation: Task is unreachable"

    # The task id cannot be reused while it is unreachable.
    other = offers[1]
    await client.accept(sub, [other["id"]["value"]], [task_info(other, "t1")])
    error = (await sub.updates(1))[0]
    assert error["message"] == "Task reuses the ID of an unreachable task: t1"

    # The host comes back as a new agent.
    hostname = target["hostname"]
    status, body = await client.control("POST", "/sim/agents", {"hostname": hostname, "cpus": 2})
    assert status == 201
    assert body["agents"][0]["hostname"] == hostname
    assert body["agents"][0]["id"] != agent_id
    status, body = await client.control("POST", "/sim/agents", {"hostname": hostname})
    assert status == 409
    status, body = await client.control("DELETE", f"/sim/agents/{agent_id}")
    assert status == 404


async def test_agent_removal_loses_tasks_of_other_frameworks(sim):
    _, client = sim
    sub = await client.subscribe()
    offer = (await _offers(sub))[0]
    await _running(client, sub, offer, "t1")
    await client.control("DELETE", f"/sim/agents/{offer['agent_id']['value']}")
    update = (await sub.updates(1))[0]
    assert update["state"] == "TASK_LOST"
    assert update["reason"] == "REASON_AGENT_REMOVED"
    failure = await sub.expect("FAILURE")
    assert failure["failure"] == {"agent_id": offer["agent_id"]}


async def test_add_agents_through_control_api(sim):
    handle, client = sim
    sub = await client.subscribe()
    await _offers(sub)
    status, body = await client.control(
        "POST", "/sim/agents", {"count": 2, "cpus": 8, "mem": 1024, "gpus": 0, "attributes": {"rack": "r1", "zone": 2}}
    )
    assert status == 201 and len(body["agents"]) == 2
    offers = await _offers(sub)
    assert sorted(o["agent_id"]["value"] for o in offers) == sorted(a["id"] for a in body["agents"])
    assert offers[0]["attributes"] == [
        {"name": "rack", "type": "TEXT", "text": {"value": "r1"}},
        {"name": "zone", "type": "SCALAR", "scalar": {"value": 2.0}},
    ]
    for bad in (
        {"count": 0},
        {"cpus": "many"},
        {"hostname": "", "count": 1},
        {"count": 2, "hostname": "h"},
        {"attributes": [1]},
        {"wings": 2},
    ):
        status, body = await client.control("POST", "/sim/agents", bad)
        assert status in (400, 409) and body["detail"], bad


async def test_master_restart(sim):
    handle, client = sim
    sub = await client.subscribe()
    offer = (await _offers(sub))[0]
    await client.accept(sub, [offer["id"]["value"]], [task_info(offer, "t1")])
    starting = (await sub.updates(1))[0]  # left unacknowledged across the restart
    old_master = handle.state.master_id

    status, body = await client.control("POST", "/sim/master/restart", {"down_seconds": 0.4})
    assert status == 200
    await sub.wait_ended()
    status, text, _ = await client.post_raw({"type": "TEARDOWN", "framework_id": {"value": sub.framework_id}}, JSON)
    assert (status, text) == (503, "Master has not finished recovery")
    status, _ = await client.get_json("/master/state")
    assert status == 503
    status, _ = await client.get_json("/health")
    assert status == 503
    status, state = await client.control("GET", "/sim/state")  # control API keeps working
    assert status == 200 and state["master"]["down"] is True

    await asyncio.sleep(0.45)
    again = await client.subscribe(framework_id=sub.framework_id)
    assert again.subscribed["subscribed"]["master_info"]["id"] != old_master
    resent = (await again.updates(1, timeout=0.5))[0]
    assert resent == starting
    await client.ack(again, starting)
    assert (await again.updates(1))[0]["state"] == "TASK_RUNNING"
    _, slaves = await client.get_json("/master/slaves")
    assert len(slaves["slaves"]) == 3  # agents kept their ids
    assert offer["agent_id"]["value"] in [s["id"] for s in slaves["slaves"]]


async def test_silence_stops_heartbeats_on_open_streams(sim):
    _, client = sim
    sub = await client.subscribe()
    await sub.next(skip_heartbeats=False)  # the immediate HEARTBEAT
    status, body = await client.control("POST", "/sim/master/silence", {"seconds": 0.7})
    assert (status, body["silenced_streams"]) == (200, 1)
    while not sub.events.empty():
        sub.events.get_nowait()
    loop = asyncio.get_running_loop()
    start = loop.time()
    # Meanwhile a fresh subscription works normally, and calls are answered.
    other = await client.subscribe(framework_info(name="other"))
    assert (await other.next(timeout=0.5, skip_heartbeats=False))["type"] == "HEARTBEAT"
    status, _ = await client.call(sub, {"type": "REVIVE"})
    assert status == 202
    event = await sub.next(timeout=2.0, skip_heartbeats=False)
    elapsed = loop.time() - start
    assert event["type"] == "HEARTBEAT"
    assert elapsed >= 0.6, elapsed  # nothing at all for the silenced period
    status, body = await client.control("POST", "/sim/master/silence", {})
    assert status == 400


async def test_stream_ends_cleanly_when_framework_is_torn_down(sim):
    _, client = sim
    sub = await client.subscribe()
    await client.call(sub, {"type": "TEARDOWN"})
    await sub.wait_ended()
    assert sub.end_error is None  # chunked terminator, not a dropped connection


async def test_refused_subscription_still_has_stream_id(sim):
    _, client = sim
    body = {
        "type": "SUBSCRIBE",
        "framework_id": {"value": "x"},
        "subscribe": {"framework_info": framework_info(id={"value": "x"})},
    }
    sub = await client.subscribe()
    await client.call(sub, {"type": "TEARDOWN"})
    body["framework_id"]["value"] = sub.framework_id
    body["subscribe"]["framework_info"]["id"]["value"] = sub.framework_id
    async with client.session.post(client.url + API, data=json.dumps(body), headers=JSON) as resp:
        assert resp.status == 200
        assert resp.headers["Mesos-Stream-Id"]
        text = (await resp.read()).decode()
    size, _, data = text.partition("\n")
    assert int(size) == len(data.encode())
    assert json.loads(data) == {"type": "ERROR", "error": {"message": "Framework has been removed"}}
