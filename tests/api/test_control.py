"""Scale's v6 scheduler and node resources: shapes, bearer tokens, strict bodies, the database rows."""

from __future__ import annotations

import logging

import pytest
from conftest import TOKEN

from scheduler.store.node_rows import load_pause_flags
from scheduler.store.scheduler_row import load_scheduler_flags
from scheduler.store.v6_resources import load_scheduler_settings

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.mark.parametrize("prefix", ["/v6", "/api/v6", "/v7"])
async def test_get_scheduler_in_scales_shape(api, prefix):
    resp = await api.get(f"{prefix}/scheduler/")
    assert resp.status == 200
    assert await resp.json() == {"is_paused": False, "num_message_handlers": 1, "system_logging_level": "INFO"}


@pytest.mark.parametrize(
    "headers, detail",
    [
        ({}, "Authentication credentials were not provided."),
        ({"Authorization": "Bearer wrong-token-wrong-token"}, "Invalid token."),
        ({"Authorization": "Bearer short"}, "Invalid token."),  # listed, but too short to be trusted
        ({"Authorization": f"Basic {TOKEN}"}, "Authentication credentials were not provided."),
    ],
)
async def test_patch_without_a_listed_token_is_401_and_changes_nothing(api, database, headers, detail):
    resp = await api.patch("/v6/scheduler/", json={"is_paused": True}, headers=headers)
    assert resp.status == 401
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert await resp.json() == {"detail": detail}
    assert (await database.run(load_scheduler_flags)).is_paused is False
    assert api.changes == []


async def test_patch_scheduler_with_a_token_writes_the_row_and_logs_the_name(api, database, caplog):
    caplog.set_level(logging.INFO)
    resp = await api.patch(
        "/api/v6/scheduler/",
        json={"is_paused": True, "num_message_handlers": 3, "system_logging_level": "DEBUG"},
        headers=AUTH,
    )
    assert resp.status == 200
    assert await resp.json() == {"is_paused": True, "num_message_handlers": 3, "system_logging_level": "DEBUG"}
    flags = await database.run(load_scheduler_flags)
    assert (flags.is_paused, flags.num_message_handlers) == (True, 3)  # what the engine reads
    assert api.changes == [True]
    assert "alice" in caplog.text and TOKEN not in caplog.text


@pytest.mark.parametrize(
    "body, status",
    [
        (b'{"is_paused": 1}', 400),
        (b'{"is_paused": "true"}', 400),
        (b'{"num_message_handlers": 2.5}', 400),
        (b'{"num_message_handlers": -1}', 400),
        (b'{"num_message_handlers": 1000000}', 400),
        (b'{"system_logging_level": "LOUD"}', 400),
        (b'{"is_paused": true, "resource_level": "GOOD"}', 400),
        (b"{}", 400),
        (b"[true]", 400),
        (b"not json", 400),
        (b'{"is_paused": NaN}', 400),
        (b'{"is_paused": true, "x": "' + b"a" * 20000 + b'"}', 413),
    ],
)
async def test_bad_scheduler_bodies_are_refused_whole(api, database, body, status):
    before = await database.run(load_scheduler_settings)
    resp = await api.patch("/v6/scheduler/", data=body, headers={**AUTH, "Content-Type": "application/json"})
    assert resp.status == status
    assert isinstance((await resp.json())["detail"], str)
    assert await database.run(load_scheduler_settings) == before
    assert api.changes == []


async def test_a_body_that_is_not_json_by_its_type_is_415(api):
    resp = await api.patch(
        "/v6/scheduler/", data=b'{"is_paused": true}', headers={**AUTH, "Content-Type": "text/plain"}
    )
    assert resp.status == 415


async def test_tokens_file_is_read_again_when_it_changes(api, tokens_file):
    other = "another-token-0123456789"
    resp = await api.patch("/v6/scheduler/", json={"is_paused": False}, headers={"Authorization": f"Bearer {other}"})
    assert resp.status == 401
    tokens_file.write_text(f"{other} carol\n")
    resp = await api.patch("/v6/scheduler/", json={"is_paused": False}, headers={"Authorization": f"Bearer {other}"})
    assert resp.status == 200
    resp = await api.patch("/v6/scheduler/", json={"is_paused": False}, headers=AUTH)  # alice was removed
    assert resp.status == 401


async def test_nodes_list_is_paginated_and_filtered(api):
    resp = await api.get("/v6/nodes/?page_size=2")
    assert resp.status == 200
    page = await resp.json()
    assert page["count"] == 3 and page["previous"] is None
    assert page["next"] == "/v6/nodes/?page_size=2&page=2"
    assert [n["hostname"] for n in page["results"]] == ["host-a", "host-b"]
    node = page["results"][0]
    assert set(node) == {
        "id",
        "hostname",
        "pause_reason",
        "is_paused",
        "is_active",
        "deprecated",
        "created",
        "last_modified",
    }
    assert node["created"].endswith("Z") and node["deprecated"] is None
    second = await (await api.get(page["next"])).json()
    assert [n["hostname"] for n in second["results"]] == ["host-c"]
    assert second["previous"] == "/v6/nodes/?page_size=2&page=1"
    assert second["results"][0]["deprecated"] is not None
    active = await (await api.get("/api/v6/nodes/?page=1&page_size=1000&is_active=true")).json()
    assert [n["hostname"] for n in active["results"]] == ["host-a", "host-b"] and active["count"] == 2


@pytest.mark.parametrize(
    "query, status",
    [
        ("page=9", 404),
        ("page=0", 400),
        ("page=abc", 400),
        ("page=", 400),
        ("page_size=1001", 400),
        ("is_active=maybe", 400),
        ("is_active=", 400),
    ],
)
async def test_bad_node_list_parameters(api, query, status):
    resp = await api.get(f"/v6/nodes/?{query}")
    assert resp.status == status
    assert "detail" in await resp.json()


async def test_pause_and_resume_one_node(api, database):
    nodes = (await (await api.get("/v6/nodes/")).json())["results"]
    node_id = nodes[1]["id"]
    resp = await api.get(f"/v6/nodes/{node_id}/")
    assert (await resp.json())["hostname"] == "host-b"
    resp = await api.patch(f"/v6/nodes/{node_id}/", json={"is_paused": True})
    assert resp.status == 401
    resp = await api.patch(f"/v6/nodes/{node_id}/", json={"is_paused": True, "pause_reason": "disk swap"}, headers=AUTH)
    assert resp.status == 200
    body = await resp.json()
    assert (body["is_paused"], body["pause_reason"]) == (True, "disk swap")
    assert (await database.run(load_pause_flags))["host-b"] is True  # the column the engine reads
    resp = await api.patch(f"/v6/nodes/{node_id}/", json={"is_paused": False}, headers=AUTH)
    body = await resp.json()
    assert (body["is_paused"], body["pause_reason"]) == (False, None)
    assert api.changes == [True, True]


@pytest.mark.parametrize(
    "path, body, status",
    [
        ("/v6/nodes/999999/", {"is_paused": True}, 404),
        ("/v6/nodes/abc/", {"is_paused": True}, 404),
        ("/v6/nodes/{id}/", {"pause_reason": "a\x1b[31mred"}, 400),
        ("/v6/nodes/{id}/", {"pause_reason": "x" * 251}, 400),
        ("/v6/nodes/{id}/", {"hostname": "renamed"}, 400),
        ("/v6/nodes/{id}/", {"is_active": None}, 400),
    ],
)
async def test_bad_node_patches(api, database, path, body, status):
    nodes = (await (await api.get("/v6/nodes/")).json())["results"]
    resp = await api.patch(path.format(id=nodes[0]["id"]), json=body, headers=AUTH)
    assert resp.status == status
    assert "detail" in await resp.json()
    assert (await (await api.get("/v6/nodes/")).json())["results"] == nodes


async def test_unknown_node_get_is_404(api):
    resp = await api.get("/v6/nodes/424242/")
    assert resp.status == 404
    assert await resp.json() == {"detail": "Not found."}


async def test_reads_need_a_token_when_asked(database, tokens_file):
    from aiohttp.test_utils import TestClient, TestServer

    from scheduler.api.app import create_app
    from scheduler.config import load_settings

    settings = load_settings({}, overrides={"API_TOKENS_FILE": str(tokens_file), "API_READ_TOKEN_REQUIRED": "true"})
    async with TestClient(TestServer(create_app(database=database, settings=settings))) as client:
        for path in ("/v6/scheduler/", "/v6/nodes/", "/api/v6/queue/status/", "/v6/version/"):
            resp = await client.get(path)
            assert resp.status == 401, path
            resp = await client.get(path, headers=AUTH)
            assert resp.status == 200, path


async def test_a_database_that_does_not_answer_is_a_503(tokens_file, tmp_path):
    from aiohttp.test_utils import TestClient, TestServer

    from scheduler.api.app import create_app
    from scheduler.config import load_settings
    from scheduler.store.database import Database

    database = Database(f"sqlite:///{tmp_path}/never-migrated.db")  # no tables at all
    settings = load_settings({}, overrides={"API_TOKENS_FILE": str(tokens_file)})
    try:
        async with TestClient(TestServer(create_app(database=database, settings=settings))) as client:
            for method, path in (("GET", "/v6/scheduler/"), ("GET", "/v6/nodes/"), ("PATCH", "/v6/scheduler/")):
                resp = await client.request(method, path, json={"is_paused": True}, headers=AUTH)
                assert resp.status == 503, path
                assert "database" in (await resp.json())["detail"]
    finally:
        await database.close()
