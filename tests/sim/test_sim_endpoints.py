"""GET /version, /health, /master/slaves, /master/state (and aliases), /sim/state."""

from __future__ import annotations

from simkit import JSON, framework_info, task_info

AGENT_KEYS = {
    "id",
    "pid",
    "hostname",
    "port",
    "registered_time",
    "active",
    "version",
    "attributes",
    "capabilities",
    "resources",
    "used_resources",
    "offered_resources",
    "reserved_resources",
    "unreserved_resources",
}


async def test_version_and_health(sim):
    _, client = sim
    status, version = await client.get_json("/version")
    assert status == 200
    assert version["version"] == "1.11.0" and version["git_tag"] == "1.11.0"
    assert {"build_date", "build_time", "build_user", "git_sha"} <= set(version)
    async with client.session.get(client.url + "/health") as resp:
        assert resp.status == 200
        assert await resp.read() == b""


async def test_master_slaves_shape(sim):
    handle, client = sim
    sub = await client.subscribe()
    offers = (await sub.expect("OFFERS"))["offers"]["offers"]
    busy = offers[0]["agent_id"]["value"]
    await client.control("PUT", f"/sim/agents/{busy}/usage", {"cpus": 1, "mem": 100})
    await sub.expect("RESCIND")
    offer = await sub.expect(
        "OFFERS", 3.0, lambda e: any(o["agent_id"]["value"] == busy for o in e["offers"]["offers"])
    )
    offer = [o for o in offer["offers"]["offers"] if o["agent_id"]["value"] == busy][0]
    await client.accept(sub, [offer["id"]["value"]], [task_info(offer, "t1", cpus=2, mem=256, ports=[(31000, 31001)])])
    await sub.updates(1)

    status, body = await client.get_json("/master/slaves")
    assert status == 200
    assert set(body) == {"slaves", "recovered_slaves"}
    assert len(body["slaves"]) == 3
    for agent in body["slaves"]:
        assert set(agent) == AGENT_KEYS
        assert agent["pid"] == f"slave(1)@{agent['pid'].split('@')[1]}"
        assert agent["port"] == 5051 and agent["active"] is True
        assert isinstance(agent["registered_time"], float)
        assert agent["resources"] == {
            "cpus": 4.0,
            "disk": 65536.0,
            "gpus": 0.0,
            "mem": 8192.0,
            "ports": "[31000-32000]",
        }
        assert agent["reserved_resources"] == {}
        assert agent["unreserved_resources"] == agent["resources"]
    agent = [a for a in body["slaves"] if a["id"] == busy][0]
    assert agent["used_resources"] == {"cpus": 3.0, "disk": 0.0, "gpus": 0.0, "mem": 356.0, "ports": "[31000-31001]"}
    others = [a for a in body["slaves"] if a["id"] != busy]
    assert all(a["offered_resources"]["cpus"] == 4.0 for a in others)
    status, alias = await client.get_json("/slaves")
    assert status == 200 and [a["id"] for a in alias["slaves"]] == [a["id"] for a in body["slaves"]]


async def test_master_state_shape(sim):
    handle, client = sim
    sub = await client.subscribe(framework_info(name="scale"))
    offer = (await sub.expect("OFFERS"))["offers"]["offers"][0]
    await client.accept(sub, [offer["id"]["value"]], [task_info(offer, "t1", labels={"job": "7"})])
    await sub.updates(1)
    status, state = await client.get_json("/master/state")
    assert status == 200
    for key in (
        "version",
        "id",
        "pid",
        "hostname",
        "leader",
        "activated_slaves",
        "start_time",
        "elected_time",
        "frameworks",
        "completed_frameworks",
        "slaves",
        "unregistered_frameworks",
    ):
        assert key in state, key
    assert state["id"] == handle.state.master_id
    assert state["leader"] == state["pid"]
    assert state["activated_slaves"] == 3
    [fw] = state["frameworks"]
    assert fw["id"] == sub.framework_id and fw["name"] == "scale"
    assert fw["active"] is True and fw["connected"] is True
    assert fw["role"] == "*" and fw["failover_timeout"] == 60.0
    assert len(fw["offers"]) == 2  # the two other agents
    assert fw["offered_resources"]["cpus"] == 8.0
    assert fw["used_resources"]["cpus"] == 1.0
    [task] = fw["tasks"]
    assert task["id"] == "t1" and task["slave_id"] == offer["agent_id"]["value"]
    assert task["state"] == "TASK_STARTING"
    assert [s["state"] for s in task["statuses"]] == ["TASK_STAGING", "TASK_STARTING"]
    assert task["labels"] == [{"key": "job", "value": "7"}]
    for alias in ("/state", "/state.json", "/master/state.json"):
        status, other = await client.get_json(alias)
        assert status == 200 and other["id"] == state["id"]


async def test_sim_state(sim):
    handle, client = sim
    sub = await client.subscribe()
    await sub.expect("OFFERS")
    status, body = await client.control("GET", "/sim/state")
    assert status == 200
    assert body["master"]["leader"] is True and body["master"]["down"] is False
    assert body["agents"]["registered"] == 3
    assert body["offers"] == 3
    [fw] = body["frameworks"]
    assert fw["id"] == sub.framework_id and fw["connected"] is True and fw["offers"] == 3


async def test_control_api_rejects_bad_json(sim):
    _, client = sim
    async with client.session.post(client.url + "/sim/outcomes", data=b"{oops", headers=JSON) as resp:
        assert resp.status == 400
        assert "invalid JSON" in (await resp.json())["detail"]
    async with client.session.post(client.url + "/sim/master/restart", data=b"[]", headers=JSON) as resp:
        assert resp.status == 400
    status, body = await client.control("POST", "/sim/master/restart", {"down_seconds": -1})
    assert status == 400 and "down_seconds" in body["detail"]
