"""The HTTP API: version, status with Scale's 503 contract, JSON errors, HEAD."""

from __future__ import annotations

import time

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from scheduler import __version__
from scheduler.api.app import create_app
from scheduler.status.snapshot import StatusSnapshot


class FixedStatus:
    def __init__(self, snapshot=None, freshness_s=12.0):
        self.snapshot, self.freshness_s = snapshot, freshness_s

    def current(self):
        return self.snapshot


@pytest.fixture
async def client_for():
    clients = []

    async def make(status=None):
        client = TestClient(TestServer(create_app(status=status)))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.mark.parametrize("version", ["v6", "v7"])
async def test_version(client_for, version):
    client = await client_for()
    resp = await client.get(f"/{version}/version/")
    assert resp.status == 200
    assert resp.content_type == "application/json"
    assert await resp.json() == {"version": __version__}


async def test_status_missing_is_503_with_scales_body(client_for):
    client = await client_for(FixedStatus(None))
    resp = await client.get("/v6/status/")
    assert resp.status == 503
    assert await resp.json() == {"detail": "Status is missing. Scheduler may be down."}


@pytest.mark.parametrize("threshold, words", [(12.0, "12"), (30.0, "30"), (12.9, "12")])
async def test_stale_status_is_503_and_names_the_threshold(client_for, threshold, words):
    old = StatusSnapshot(time.time() - threshold - 1, b'{"timestamp":"old"}')
    client = await client_for(FixedStatus(old, threshold))
    resp = await client.get("/v6/status/")
    assert resp.status == 503
    assert await resp.json() == {"detail": f"Status is over {words} seconds old"}


async def test_fresh_status_is_served_as_is(client_for):
    body = orjson.dumps({"timestamp": "now", "nodes": []})
    client = await client_for(FixedStatus(StatusSnapshot(time.time(), body)))
    for version in ("v6", "v7"):
        resp = await client.get(f"/{version}/status/")
        assert resp.status == 200
        assert resp.content_type == "application/json"
        assert await resp.read() == body


async def test_head_works_where_get_does(client_for):
    body = b'{"timestamp":"now"}'
    client = await client_for(FixedStatus(StatusSnapshot(time.time(), body)))
    resp = await client.head("/v6/status/")
    assert resp.status == 200
    assert int(resp.headers["Content-Length"]) == len(body)
    resp = await client.head("/v6/version/")
    assert resp.status == 200


async def test_unknown_path_and_wrong_method_answer_json(client_for):
    client = await client_for(FixedStatus(None))
    resp = await client.get("/v5/status/")
    assert resp.status == 404
    assert await resp.json() == {"detail": "Not found."}
    resp = await client.post("/v6/status/", data=b"{}")
    assert resp.status == 405
    assert (await resp.json())["detail"] == 'Method "POST" not allowed.'
    assert "GET" in resp.headers["Allow"]
    resp = await client.delete("/v6/version/")
    assert resp.status == 405
