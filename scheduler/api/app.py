"""The aiohttp application factory: the same wiring for the daemon, the api command and the tests."""

from __future__ import annotations

import orjson
from aiohttp import web

from scheduler import __version__
from scheduler.api.dashboard import add_dashboard_routes
from scheduler.api.errors import json_errors
from scheduler.api.events import add_event_routes
from scheduler.api.health import HealthSources, health_routes
from scheduler.api.status import StatusSource, status_handler

API_VERSIONS = ("v6", "v7")  # Scale serves both, identically
VERSION_BODY = orjson.dumps({"version": __version__})


async def get_version(_request: web.Request) -> web.Response:
    return web.Response(body=VERSION_BODY, content_type="application/json")


def bench_copy_handler(status: StatusSource):
    """The benchmark's baseline: the status bytes of the first request, from memory, with no checks.

    Served by the same server as /v6/status/, so the two can be loaded side by side.
    """
    frozen: list[bytes] = []

    async def get_copy(_request: web.Request) -> web.Response:
        if not frozen:
            snapshot = status.current()
            if snapshot is None:
                return web.Response(status=503)
            frozen.append(bytes(snapshot.body))
        return web.Response(body=frozen[0], content_type="application/json")

    return get_copy


def create_app(
    *, status: StatusSource | None = None, health: HealthSources | None = None, bench_routes: bool = False
) -> web.Application:
    app = web.Application(middlewares=[json_errors])
    if health is not None:
        health_routes(app, health)
    for version in API_VERSIONS:
        app.router.add_get(f"/{version}/version/", get_version)  # add_get also answers HEAD
        if status is not None:
            app.router.add_get(f"/{version}/status/", status_handler(status))
    if status is not None:
        add_event_routes(app, status, [f"/{version}/events/" for version in API_VERSIONS])
    add_dashboard_routes(app)
    if bench_routes and status is not None:
        app.router.add_get("/bench/status-copy/", bench_copy_handler(status))
    return app
