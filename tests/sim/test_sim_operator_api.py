"""POST /api/v1, the operator API, as ``Master::Http::api`` answers it: GET_FRAMEWORKS (the
frameworks without their tasks), and the refusals in the master's order of checks."""

from __future__ import annotations

import base64
import json

import pytest
from simkit import framework_info, task_info

from scheduler.mesos.frameworks import ghost_frameworks, listed_by_operator_api

CREDS = (("fw", "pw"),)
JSON_CALL = {"Content-Type": "application/json", "Accept": "application/json"}


async def operator(client, body, headers=JSON_CALL, method="POST"):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    skip = () if "Content-Type" in headers else ("Content-Type",)  # aiohttp would add one
    async with client.session.request(
        method, client.url + "/api/v1", data=data, headers=headers, allow_redirects=False, skip_auto_headers=skip
    ) as resp:
        return resp.status, await resp.read(), dict(resp.headers)


async def test_get_frameworks_lists_the_frameworks_with_their_state_and_no_tasks(sim):
    handle, client = sim
    sub = await client.subscribe(framework_info(name="scale", principal="scale-svc"))
    offers = (await sub.expect("OFFERS"))["offers"]["offers"]
    await client.accept(sub, [offers[0]["id"]["value"]], [task_info(offers[0], "t1", cpus=1, mem=128)])
    await sub.updates(1)

    status, body, headers = await operator(client, {"type": "GET_FRAMEWORKS"})
    assert status == 200 and headers["Content-Type"] == "application/json"
    answer = json.loads(body)
    assert answer["type"] == "GET_FRAMEWORKS"
    [framework] = answer["get_frameworks"]["frameworks"]
    info = framework["framework_info"]
    assert info["id"] == {"value": sub.framework_id} and info["name"] == "scale" and info["principal"] == "scale-svc"
    assert (framework["active"], framework["connected"], framework["recovered"]) == (True, True, False)
    assert isinstance(framework["registered_time"]["nanoseconds"], int)
    assert "tasks" not in framework and "completed_tasks" not in framework
    allocated = {r["name"]: r["scalar"]["value"] for r in framework["allocated_resources"]}
    assert allocated["cpus"] == 1 and allocated["mem"] == 128
    assert "completed_frameworks" in answer["get_frameworks"]
    # The scheduler's ghost check reads this answer: a ghost says what it holds (its task count is not in it).
    [ghost] = ghost_frameworks(listed_by_operator_api(answer), "another-id", "scale", None)
    assert ghost.endswith("holding 1 cpus and 128 MB of memory)")


@pytest.mark.parametrize(
    "body, headers, method, status, text",
    [
        ({"type": "GET_FRAMEWORKS"}, JSON_CALL, "GET", 405, "Expecting one of { 'POST' }, but received 'GET'"),
        (
            {"type": "GET_FRAMEWORKS"},
            {"Accept": "application/json"},
            "POST",
            400,
            "Expecting 'Content-Type' to be present",
        ),
        (
            {"type": "GET_FRAMEWORKS"},
            {"Content-Type": "text/plain"},
            "POST",
            415,
            "Expecting 'Content-Type' of application/json or application/x-protobuf",
        ),
        (b"{not json", JSON_CALL, "POST", 400, "Failed to parse body into JSON: "),
        ([1, 2], JSON_CALL, "POST", 400, "Failed to convert JSON into Call protobuf: Expecting a JSON object"),
        ({}, JSON_CALL, "POST", 400, "Failed to validate master::Call: Expecting 'type' to be present"),
        # An unknown enum on an optional field is dropped, as stout's parser does: then no type.
        ({"type": "GET_EVERYTHING"}, JSON_CALL, "POST", 400, "Expecting 'type' to be present"),
        (
            {"type": "GET_FRAMEWORKS"},
            {"Content-Type": "application/json", "Accept": "text/html"},
            "POST",
            406,
            "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'",
        ),
        ({"type": "UNKNOWN"}, JSON_CALL, "POST", 501, ""),
        ({"type": "GET_TASKS"}, JSON_CALL, "POST", 501, "does not implement the operator call GET_TASKS"),
    ],
    ids=[
        "get",
        "no-content-type",
        "text-plain",
        "bad-json",
        "not-object",
        "no-type",
        "unknown-type",
        "accept",
        "unknown",
        "other-call",
    ],
)
async def test_refusals_in_the_masters_order(sim, body, headers, method, status, text):
    _, client = sim
    answered, answer, _ = await operator(client, body, headers, method)
    assert answered == status
    assert text in answer.decode()


async def test_a_master_not_leading_redirects_and_one_recovering_says_so(sim):
    handle, client = sim
    handle.master.set_leader("http://10.0.0.9:5050")
    status, _, headers = await operator(client, {"type": "GET_FRAMEWORKS"})
    assert (status, headers["Location"]) == (307, "//10.0.0.9:5050/api/v1")
    handle.master.set_leader(None)


def basic(principal: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{principal}:{secret}".encode()).decode()


async def test_readwrite_authentication_comes_first(make_sim):
    handle, client = await make_sim(credentials=CREDS, authenticate_readwrite=True)
    handle.master.set_leader("http://10.0.0.9:5050")
    status, body, headers = await operator(client, {"type": "GET_FRAMEWORKS"})
    assert (status, body, headers["WWW-Authenticate"]) == (
        401,
        b"401 Unauthorized.",
        'Basic realm="mesos-master-readwrite"',
    )
    handle.master.set_leader(None)
    status, _, _ = await operator(client, {"type": "GET_FRAMEWORKS"}, {**JSON_CALL, "Authorization": basic("fw", "pw")})
    assert status == 200
    # Without --authenticate_http_readwrite the operator API stays open.
    _, open_client = await make_sim(credentials=CREDS)
    status, _, _ = await operator(open_client, {"type": "GET_FRAMEWORKS"})
    assert status == 200
