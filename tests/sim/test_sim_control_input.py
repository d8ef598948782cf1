"""The control API takes JSON only and bounds every number: hostile input gets a 4xx JSON detail and
changes nothing (issue 9: text/plain cross-site POSTs and down_seconds 1e300 were accepted)."""

from __future__ import annotations

import json

import pytest
from simkit import JSON

WRITES = [
    ("POST", "/sim/agents", {"count": 1}),
    ("POST", "/sim/master/restart", {"down_seconds": 1}),
    ("POST", "/sim/master/silence", {"seconds": 1}),
    ("PUT", "/sim/master/leader", {"redirect_to": "http://10.0.0.2:5050"}),
    ("POST", "/sim/outcomes", {"state": "TASK_FAILED"}),
    ("PUT", "/sim/agents/x/usage", {"cpus": 1}),
    ("PUT", "/sim/tasks/x", {"duration": 1}),
]


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
@pytest.mark.parametrize("method, path, body", WRITES)
async def test_every_write_requires_json_content_type(sim, method, path, body, content_type):
    handle, client = sim
    before = (len(handle.state.agents), handle.master.runtime(), len(handle.state.outcomes.rules))
    headers = {} if content_type is None else {"Content-Type": content_type}

    async with client.session.request(method, client.url + path, data=json.dumps(body).encode(), headers=headers) as r:
        assert r.status == 415
        assert (await r.json())["detail"] == "Content-Type must be application/json"
    assert (len(handle.state.agents), handle.master.runtime(), len(handle.state.outcomes.rules)) == before


async def test_json_with_charset_is_accepted(sim):
    handle, client = sim
    status, body = await client.control(
        "POST", "/sim/agents", {"count": 1}, headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert status == 201 and len(handle.state.agents) == 4


@pytest.mark.parametrize(
    "method, path, body, field",
    [
        ("POST", "/sim/master/restart", {"down_seconds": 1e300}, "down_seconds"),
        ("POST", "/sim/master/restart", {"down_seconds": 3601}, "down_seconds"),
        ("POST", "/sim/master/restart", {"down_seconds": -1}, "down_seconds"),
        ("POST", "/sim/master/restart", {"down_seconds": 10**400}, "invalid JSON"),  # orjson: infinity
        ("POST", "/sim/master/restart", {"down_seconds": "5"}, "down_seconds"),
        ("POST", "/sim/master/silence", {"seconds": 1e9}, "seconds"),
        ("POST", "/sim/agents", {"count": 10**6}, "count"),
        ("POST", "/sim/agents", {"count": 0}, "count"),
        ("POST", "/sim/agents", {"cpus": 1e300}, "cpus"),
        ("POST", "/sim/agents", {"mem": -5}, "mem"),
        ("POST", "/sim/agents", {"gpus": 10**30}, "gpus"),
        ("POST", "/sim/agents", {"hostname": "a" * 300}, "hostname"),
        ("POST", "/sim/agents", {"hostname": "bad\nname"}, "hostname"),
        ("POST", "/sim/agents", {"attributes": {"rack": 1e300}}, "attributes.rack"),
        ("POST", "/sim/agents", {"attributes": {f"k{i}": i for i in range(101)}}, "attributes"),
        ("POST", "/sim/outcomes", {"duration": "1e400"}, "duration"),
        ("POST", "/sim/outcomes", {"duration": 1e300}, "duration"),
        ("POST", "/sim/outcomes", {"exit_code": 10**30}, "exit_code"),
        ("POST", "/sim/outcomes", {"exit_code": -1}, "exit_code"),
        ("POST", "/sim/outcomes", {"message": "x" * 5000}, "message"),
        ("POST", "/sim/outcomes", {"state": "TASK_FAILED", "name_glob": "x" * 5000}, "name_glob"),
        ("POST", "/sim/outcomes", {"state": "TASK_FAILED", "probability": 10**30}, "probability"),
        ("PUT", "/sim/master/leader", {"redirect_to": "http://h:99999"}, "redirect_to"),
    ],
)
async def test_numbers_and_strings_are_bounded_with_the_field_named(sim, method, path, body, field):
    handle, client = sim
    before = (len(handle.state.agents), handle.master.runtime(), len(handle.state.outcomes.rules))
    status, answer = await client.control(method, path, body)
    assert status == 400, answer
    assert field in answer["detail"]
    assert (len(handle.state.agents), handle.master.runtime(), len(handle.state.outcomes.rules)) == before


async def test_usage_and_task_updates_are_bounded(sim):
    handle, client = sim
    agent_id = next(iter(handle.state.agents))
    status, answer = await client.control("PUT", f"/sim/agents/{agent_id}/usage", {"cpus": 1e300})
    assert status == 400 and "cpus" in answer["detail"]
    assert handle.state.agents[agent_id].other_used.cpus == 0


async def test_bounds_are_inclusive(sim):
    handle, client = sim
    status, _ = await client.control("POST", "/sim/master/silence", {"seconds": 3600})
    assert status == 200
    status, _ = await client.control("POST", "/sim/outcomes", {"exit_code": 255, "duration": "inf"})
    assert status == 201


async def test_oversized_body_is_refused(sim):
    _, client = sim
    big = b'{"state": "TASK_FAILED", "message": "' + b"x" * (1024 * 1024) + b'"}'
    async with client.session.post(client.url + "/sim/outcomes", data=big, headers=JSON) as resp:
        assert resp.status == 413
        assert "larger than" in (await resp.json())["detail"]


async def test_oversized_chunked_body_is_refused(sim):
    _, client = sim

    async def chunks():
        yield b'{"state": "TASK_FAILED", "message": "'
        for _ in range(20):
            yield b"x" * 65536
        yield b'"}'

    async with client.session.post(client.url + "/sim/outcomes", data=chunks(), headers=JSON) as resp:
        assert resp.status == 413
