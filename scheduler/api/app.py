"""The aiohttp application factory: the same wiring for the daemon, the api command and the tests."""

from __future__ import annotations

import orjson
from aiohttp import web

from scheduler import __version__
from scheduler.api.errors import json_errors
from scheduler.api.status import StatusSource, status_handler

API_VERSIONS = ("v6", "v7")  # Scale serves both, identically
VERSION_BODY = orjson.dumps({"version": __version__})


async def get_version(_request: web.Request) -> web.Response:
    return web.Response(body=VERSION_BODY, content_type="application/json")


def create_app(*, status: StatusSource | None = None) -> web.Application:
    app = web.Application(middlewares=[json_errors])
    for version in API_VERSIONS:
        app.router.add_get(f"/{version}/version/", get_version)  # add_get also answers HEAD
        if status is not None:
            app.router.add_get(f"/{version}/status/", status_handler(status))
    return app
