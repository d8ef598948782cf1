"""The OpenAPI document describes every route the application registers, and nothing it does not."""

from __future__ import annotations

import time

from aiohttp.test_utils import TestClient, TestServer
from conftest import FixedStatus

from scheduler.api.app import create_app
from scheduler.api.health import HealthSources
from scheduler.api.openapi import document, registered
from scheduler.status.snapshot import StatusSnapshot


def full_app(database):
    health = HealthSources(
        view=lambda: None,
        snapshot_time=lambda: None,
        subscribed=lambda: False,
        database_error=lambda: None,
        dependencies=dict,
        freshness_s=12.0,
    )
    status = FixedStatus(StatusSnapshot(time.time(), b"{}"))
    return create_app(status=status, health=health, bench_routes=True, database=database)


async def test_every_registered_route_is_documented(database):
    paths = document()["paths"]
    routes = registered(full_app(database))
    assert len(routes) >= 37  # 8 resources x 4 prefixes and versions, health and bench routes
    for path, methods in routes.items():
        assert path in paths, f"{path} is served but not documented"
        assert methods <= set(paths[path]), f"{path}: {methods - set(paths[path])} not documented"


async def test_a_server_documents_only_what_it_serves(database):
    async with TestClient(TestServer(create_app(status=FixedStatus(None)))) as client:
        narrow = await (await client.get("/v6/openapi.json")).json()
    assert "/v6/status/" in narrow["paths"] and "/v6/scheduler/" not in narrow["paths"]
    async with TestClient(TestServer(full_app(database))) as client:
        resp = await client.get("/api/v7/openapi.json")
        wide = await resp.json()
    assert wide["openapi"].startswith("3.0")
    assert set(wide["paths"]["/v6/nodes/{node_id}/"]) == {"get", "patch"}
    assert wide["paths"]["/v6/scheduler/"]["patch"]["security"] == [{"bearer": []}]


def test_every_reference_resolves():
    doc = document()
    schemas = doc["components"]["schemas"]

    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                assert node["$ref"].removeprefix("#/components/schemas/") in schemas, node["$ref"]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
