"""The aiohttp application factory: the same wiring for the daemon, the api command and the tests."""

from __future__ import annotations

import orjson
from aiohttp import web

from scheduler import __version__
from scheduler.api.errors import json_errors
from scheduler.api.health import HealthSources, health_routes
from scheduler.api.representation import send
from scheduler.api.status import StatusSource, status_handler
from scheduler.status.snapshot import compress

API_VERSIONS = ("v6", "v7")  # Scale serves both, identically
# Scale's UI image asks for /api/v6/... and forwards /api unchanged: both prefixes serve every route.
API_PREFIXES = ("", "/api")
VERSION_BODY = orjson.dumps({"version": __version__})


async def get_version(_request: web.Request) -> web.Response:
    return web.Response(body=VERSION_BODY, content_type="application/json")


def bench_copy_handlers(status: StatusSource):
    """The benchmark's baselines: the status bytes of the first request (plain, and gzip-compressed
    once), from memory, with no checks.

    Served by the same server as /v6/status/, so the two can be loaded side by side.
    """
    frozen: dict[str, bytes] = {}

    def handler(coding: str | None):
        async def get_copy(request: web.Request) -> web.StreamResponse:
            if not frozen:
                snapshot = status.current()
                if snapshot is None:
                    return web.Response(status=503)
                frozen["plain"] = bytes(snapshot.body)
                frozen["gzip"] = compress(frozen["plain"], "gzip")
            body = frozen[coding or "plain"]
            return await send(request, body, etag='"bench"', coding=coding)

        return get_copy

    return handler(None), handler("gzip")


def v6_paths(path: str) -> list[str]:
    """``path`` (after the version, e.g. ``status/``) under every prefix and version served."""
    return [f"{prefix}/{version}/{path}" for prefix in API_PREFIXES for version in API_VERSIONS]


def create_app(
    *, status: StatusSource | None = None, health: HealthSources | None = None, bench_routes: bool = False
) -> web.Application:
    # Scale's Django redirects /v6/status to /v6/status/ (APPEND_SLASH); clients rely on it.
    slash = web.normalize_path_middleware(
        append_slash=True, merge_slashes=False, redirect_class=web.HTTPMovedPermanently
    )
    app = web.Application(middlewares=[json_errors, slash])
    if health is not None:
        health_routes(app, health)
    for path in v6_paths("version/"):
        app.router.add_get(path, get_version)  # add_get also answers HEAD
    if status is not None:
        get_status = status_handler(status)
        for path in v6_paths("status/"):
            app.router.add_get(path, get_status)
    if bench_routes and status is not None:
        plain, gzipped = bench_copy_handlers(status)
        app.router.add_get("/bench/status-copy/", plain)
        app.router.add_get("/bench/status-copy-gzip/", gzipped)
    return app
