"""Status codes and messages of POST /api/v1/scheduler, as Master::Http::scheduler answers."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid

import pytest
from simkit import API, JSON, framework_info

TEXT = "text/plain; charset=utf-8"


async def test_subscribe_answers_stream_then_subscribed_and_heartbeat(sim):
    handle, client = sim
    resp = await client.session.post(
        client.url + API,
        data=json.dumps({"type": "SUBSCRIBE", "subscribe": {"framework_info": framework_info()}}),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    try:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "application/json"
        assert resp.headers["Transfer-Encoding"] == "chunked"
        stream_id = resp.headers["Mesos-Stream-Id"]
        assert str(uuid.UUID(stream_id)) == stream_id
        # Raw RecordIO: "<len>\n<json>" for SUBSCRIBED, then a HEARTBEAT at once.
        buf = b""
        while buf.count(b"\n") < 2 or len(buf) < 200:
            buf += await resp.content.readany()
            if b'"HEARTBEAT"' in buf:
                break
        size, _, rest = buf.partition(b"\n")
        first = json.loads(rest[: int(size)])
        assert first["type"] == "SUBSCRIBED"
        sub = first["subscribed"]
        assert sub["framework_id"]["value"].startswith(handle.state.master_id + "-")
        assert sub["heartbeat_interval_seconds"] == 0.2
        assert isinstance(sub["heartbeat_interval_seconds"], float)
        info = sub["master_info"]
        assert info["id"] == handle.state.master_id
        assert info["version"] == "1.11.0"
        assert info["address"]["port"] == info["port"] == int(client.url.rsplit(":", 1)[1])
        rest = rest[int(size) :]
        size2, _, rest2 = rest.partition(b"\n")
        assert json.loads(rest2[: int(size2)]) == {"type": "HEARTBEAT"}
    finally:
        resp.close()


async def test_heartbeats_keep_coming(sim):
    _, client = sim
    sub = await client.subscribe()
    beats = 0
    for _ in range(4):
        event = await sub.next(timeout=1.0, skip_heartbeats=False)
        beats += event["type"] == "HEARTBEAT"
    assert beats >= 3  # the immediate one plus every 0.2 s


async def _post(client, body, headers=JSON, method="POST"):
    return await client.post_raw(body, headers, method)


async def test_405_for_other_methods(sim):
    _, client = sim
    status, text, headers = await _post(client, "", {}, method="GET")
    assert status == 405
    assert headers["Allow"] == "POST"
    assert text == "Expecting one of { 'POST' }, but received 'GET'"


async def test_400_without_content_type(sim):
    _, client = sim
    async with client.session.post(client.url + API, data=b"{}", skip_auto_headers=("Content-Type",)) as resp:
        assert resp.status == 400
        assert await resp.text() == "Expecting 'Content-Type' to be present"
        assert resp.headers["Content-Type"] == TEXT


@pytest.mark.parametrize("content_type", ["text/plain", "application/json; charset=utf-8", "application/x-protobuf"])
async def test_415_for_other_content_types(sim, content_type):
    _, client = sim
    status, text, _ = await _post(client, {"type": "TEARDOWN"}, {"Content-Type": content_type})
    assert status == 415
    assert text.startswith("Expecting 'Content-Type' of application/json")


async def test_400_for_unparsable_json(sim):
    _, client = sim
    status, text, headers = await _post(client, b"{not json")
    assert status == 400
    assert text.startswith("Failed to parse body into JSON: ")
    assert headers["Content-Type"] == TEXT


@pytest.mark.parametrize(
    "body, message",
    [
        (
            {"type": "SUBSCRIBE", "subscribe": {"framework_info": {}}},
            "Missing required fields: subscribe.framework_info.user, subscribe.framework_info.name",
        ),
        (
            {
                "type": "ACCEPT",
                "framework_id": {},
                "accept": {"operations": [{"type": "LAUNCH", "launch": {"task_infos": [{"name": "x"}]}}]},
            },
            "Missing required fields: framework_id.value, accept.operations[0].launch.task_infos[0].task_id, "
            "accept.operations[0].launch.task_infos[0].agent_id",
        ),
        ({"type": {"name": "SUBSCRIBE"}}, "Not expecting a JSON object for field 'type'"),
        ({"type": 1}, "Not expecting a JSON number for field 'type'"),
        ({"type": "KILL", "kill": "t1"}, "Not expecting a JSON string for field 'kill'"),
        ({"type": "TEARDOWN", "framework_id": [{"value": "a"}]}, "Not expecting a JSON array for field 'framework_id'"),
        (
            {
                "type": "ACKNOWLEDGE",
                "framework_id": {"value": "f"},
                "acknowledge": {"agent_id": {"value": "a"}, "task_id": {"value": "t"}, "uuid": "not base64!"},
            },
            "Failed to base64 decode bytes field 'uuid'",
        ),
        (
            {
                "type": "ACKNOWLEDGE",
                "framework_id": {"value": "f"},
                "acknowledge": {"agent_id": {"value": "a"}, "task_id": {"value": "t"}, "uuid": {"value": "AAAA"}},
            },
            "Not expecting a JSON object for field 'uuid'",
        ),
        (
            {"type": "DECLINE", "framework_id": {"value": "f"}, "decline": {"filters": {"refuse_seconds": "soon"}}},
            "Failed to parse 'soon' as a JSON number",
        ),
        ([1, 2], "Expecting a JSON object"),
    ],
)
async def test_400_for_json_that_is_not_a_call(sim, body, message):
    _, client = sim
    status, text, _ = await _post(client, body)
    assert status == 400
    assert text.startswith("Failed to convert JSON into Call protobuf: " + message), text


@pytest.mark.parametrize(
    "body, message",
    [
        ({"type": "NO_SUCH_CALL"}, "Expecting 'type' to be present"),
        ({"framework_id": {"value": "f"}}, "Expecting 'type' to be present"),
        ({"type": "SUBSCRIBE"}, "Expecting 'subscribe' to be present"),
        ({"type": "TEARDOWN"}, "Expecting 'framework_id' to be present"),
        ({"type": "ACCEPT", "framework_id": {"value": "f"}}, "Expecting 'accept' to be present"),
        ({"type": "KILL", "framework_id": {"value": "f"}}, "Expecting 'kill' to be present"),
        ({"type": "UPDATE_FRAMEWORK", "framework_id": {"value": "f"}}, "Expecting 'update_framework' to be present"),
        (
            {"type": "SUBSCRIBE", "framework_id": {"value": "f"}, "subscribe": {"framework_info": framework_info()}},
            "'framework_id' differs from 'subscribe.framework_info.id'",
        ),
        (
            {
                "type": "SUBSCRIBE",
                "framework_id": {"value": "f"},
                "subscribe": {"framework_info": framework_info(id={"value": "g"})},
            },
            "'framework_id' differs from 'subscribe.framework_info.id'",
        ),
        (
            {
                "type": "ACKNOWLEDGE",
                "framework_id": {"value": "f"},
                "acknowledge": {
                    "agent_id": {"value": "a"},
                    "task_id": {"value": "t"},
                    "uuid": base64.b64encode(b"short").decode(),
                },
            },
            "Not a valid UUID",
        ),
        (
            {
                "type": "UPDATE_FRAMEWORK",
                "framework_id": {"value": "f"},
                "update_framework": {"framework_info": framework_info(id={"value": "g"})},
            },
            "'framework_id' differs from 'update_framework.framework_info.id'",
        ),
    ],
)
async def test_400_for_invalid_calls(sim, body, message):
    _, client = sim
    status, text, _ = await _post(client, body)
    assert status == 400
    assert text == "Failed to validate scheduler::Call: " + message


async def test_406_when_subscribe_accepts_no_json(sim):
    _, client = sim
    body = {"type": "SUBSCRIBE", "subscribe": {"framework_info": framework_info()}}
    status, text, _ = await _post(client, body, {"Content-Type": "application/json", "Accept": "text/html"})
    assert status == 406
    assert text == "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'"
    # An Accept that allows JSON through a wildcard is fine.
    sub = await client.subscribe(headers={"Content-Type": "application/json", "Accept": "application/*"})
    assert sub.framework_id


async def test_400_subscribe_with_stream_id(sim):
    _, client = sim
    body = {"type": "SUBSCRIBE", "subscribe": {"framework_info": framework_info()}}
    status, text, _ = await _post(client, body, {**JSON, "Mesos-Stream-Id": str(uuid.uuid4())})
    assert status == 400
    assert text == "Subscribe calls should not include the 'Mesos-Stream-Id' header"


async def test_non_subscribe_checks_in_order(sim):
    _, client = sim
    status, text, _ = await _post(client, {"type": "REVIVE", "framework_id": {"value": "nope"}})
    assert (status, text) == (400, "Framework cannot be found")

    sub = await client.subscribe()
    fid = {"value": sub.framework_id}
    status, text, _ = await _post(client, {"type": "REVIVE", "framework_id": fid})
    assert (status, text) == (400, "All non-subscribe calls should include the 'Mesos-Stream-Id' header")

    other = str(uuid.uuid4())
    status, text, _ = await _post(client, {"type": "REVIVE", "framework_id": fid}, {**JSON, "Mesos-Stream-Id": other})
    assert status == 400
    assert text == (
        f"The stream ID '{other}' included in this request didn't match the stream ID "
        f"currently associated with framework ID {sub.framework_id}"
    )

    status, text = await client.call(sub, {"type": "REVIVE"})
    assert (status, text) == (202, "")

    status, text = await client.call(sub, {"type": "UNKNOWN"})
    assert status == 501

    # Disconnected (failover_timeout 60 s keeps it registered): 403.
    await sub.close()
    for _ in range(50):
        status, text = await client.call(sub, {"type": "REVIVE"})
        if status == 403:
            break
        await asyncio.sleep(0.02)
    assert (status, text) == (403, "Framework is not subscribed")


async def test_unknown_fields_ignored_and_strings_for_numbers(sim):
    _, client = sim
    info = framework_info(failover_timeout="30", checkpoint="true", no_such_field={"x": 1})
    body = {"type": "SUBSCRIBE", "subscribe": {"framework_info": info, "force": True}, "extra": [1]}
    resp = await client.session.post(client.url + API, data=json.dumps(body), headers=JSON)
    try:
        assert resp.status == 200
    finally:
        resp.close()
    sub = await client.subscribe()
    status, text = await client.call(
        sub,
        {"type": "DECLINE", "decline": {"offer_ids": [{"value": "unknown-offer"}], "filters": {"refuse_seconds": "5"}}},
    )
    assert (status, text) == (202, "")  # an unknown offer is ignored


async def test_calls_without_simulation_are_accepted(sim):
    _, client = sim
    sub = await client.subscribe()
    agent = {"value": "a"}
    for call in [
        {"type": "SHUTDOWN", "shutdown": {"executor_id": {"value": "e"}, "agent_id": agent}},
        {
            "type": "MESSAGE",
            "message": {"agent_id": agent, "executor_id": {"value": "e"}, "data": base64.b64encode(b"hi").decode()},
        },
        {"type": "REQUEST", "request": {"requests": [{"agent_id": agent}]}},
        {"type": "ACCEPT_INVERSE_OFFERS", "accept_inverse_offers": {"inverse_offer_ids": [{"value": "i"}]}},
        {"type": "DECLINE_INVERSE_OFFERS", "decline_inverse_offers": {}},
        {"type": "RECONCILE_OPERATIONS", "reconcile_operations": {}},
        {
            "type": "ACKNOWLEDGE_OPERATION_STATUS",
            "acknowledge_operation_status": {
                "agent_id": agent,
                "uuid": base64.b64encode(uuid.uuid4().bytes).decode(),
                "operation_id": {"value": "op"},
            },
        },
    ]:
        status, text = await client.call(sub, call)
        assert (status, text) == (202, ""), call["type"]
    status, text = await client.call(
        sub,
        {
            "type": "ACKNOWLEDGE_OPERATION_STATUS",
            "acknowledge_operation_status": {
                "uuid": base64.b64encode(uuid.uuid4().bytes).decode(),
                "operation_id": {"value": "op"},
            },
        },
    )
    assert (status, text) == (400, "Failed to validate scheduler::Call: Expecting 'agent_id' to be present")


async def test_update_framework_is_synchronous_200(sim):
    _, client = sim
    sub = await client.subscribe()
    info = framework_info(name="renamed", id={"value": sub.framework_id})
    status, text = await client.call(sub, {"type": "UPDATE_FRAMEWORK", "update_framework": {"framework_info": info}})
    assert (status, text) == (200, "")
    status, text = await client.call(
        sub, {"type": "UPDATE_FRAMEWORK", "update_framework": {"framework_info": {**info, "user": "root"}}}
    )
    assert status == 400


async def test_404_only_for_unknown_paths(sim):
    _, client = sim
    async with client.session.get(client.url + "/api/v1/nope") as resp:
        assert resp.status == 404


async def test_307_when_not_leader(make_sim):
    _, client = await make_sim(redirect_to="http://10.1.2.3:5050")
    status, text, headers = await _post(client, {"type": "SUBSCRIBE"})
    assert status == 307
    assert headers["Location"] == "//10.1.2.3:5050/api/v1/scheduler"
    # Even before method or content checks.
    status, _, headers = await _post(client, "", {}, method="GET")
    assert status == 307
    status, _ = await client.get_json("/master/state")
    assert status == 307


async def test_leader_switch_through_control_api(sim):
    _, client = sim
    sub = await client.subscribe()
    status, body = await client.control("PUT", "/sim/master/leader", {"redirect_to": "http://leader.example:5055"})
    assert status == 200 and body["leader"] is False
    await sub.wait_ended()  # a master losing leadership drops its streams
    status, _, headers = await _post(client, {"type": "TEARDOWN"})
    assert (status, headers["Location"]) == (307, "//leader.example:5055/api/v1/scheduler")
    status, body = await client.control("PUT", "/sim/master/leader", {"redirect_to": None})
    assert status == 200 and body["leader"] is True
    again = await client.subscribe(framework_id=sub.framework_id)
    assert again.framework_id == sub.framework_id
    status, body = await client.control("PUT", "/sim/master/leader", {"redirect_to": "ftp://x"})
    assert status == 400 and "detail" in body
