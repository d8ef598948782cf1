"""Scale's v6 scheduler and node resources: read and change the flags the scheduler follows.

``GET``/``PATCH /v6/scheduler/`` and ``GET /v6/nodes/``, ``GET``/``PATCH /v6/nodes/{id}/``, in
Scale's shapes. Changes are written to the database (the same columns the CLI's ``pause`` and
``nodes pause`` write), then ``on_change`` lets a running scheduler read them at once instead of on
its next flag sync. Each change is logged with the name of the token that made it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson
from aiohttp import web
from sqlalchemy.engine import Connection

from scheduler.api.auth import TOKEN_NAME
from scheduler.api.bodies import boolean, choice, integer, read_object, text
from scheduler.api.errors import BadRequest, ServiceUnavailable
from scheduler.api.pagination import Page
from scheduler.store.database import Database
from scheduler.store.v6_resources import (
    get_node,
    list_nodes,
    load_scheduler_settings,
    update_node,
    update_scheduler_settings,
)
from scheduler.timefmt import iso

log = logging.getLogger(__name__)

T = TypeVar("T")
ON_CHANGE_TIMEOUT_S = 5.0
LOGGING_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
SCHEDULER_PATCH = {
    "is_paused": boolean,
    "num_message_handlers": integer(0, 100),
    "system_logging_level": choice(*LOGGING_LEVELS),
}
NODE_PATCH = {"is_paused": boolean, "pause_reason": text(250, nullable=True), "is_active": boolean}


async def call(database: Database, work: Callable[[Connection], T]) -> T:
    try:
        return await database.run(work)
    except TimeoutError:
        raise ServiceUnavailable("The database did not answer in time; try again.") from None
    except Exception as exc:  # the database's own errors: never a 500 with a traceback to the client
        log.warning("API: database call failed: %s", type(exc).__name__)
        raise ServiceUnavailable("The database is unavailable; try again.") from None


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def node_json(node: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": node["id"],
        "hostname": node["hostname"],
        "pause_reason": node["pause_reason"],
        "is_paused": node["is_paused"],
        "is_active": node["is_active"],
        "deprecated": iso(node["deprecated"].timestamp()) if node["deprecated"] else None,
        "created": iso(node["created"].timestamp()),
        "last_modified": iso(node["last_modified"].timestamp()),
    }


def is_active_param(request: web.Request) -> bool | None:
    raw = request.query.get("is_active")
    if raw is None:
        return None
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise BadRequest("is_active must be true or false")


def node_id_of(request: web.Request) -> int:
    raw = request.match_info["node_id"]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        raise web.HTTPNotFound()
    return int(raw)


def control_routes(
    app: web.Application,
    paths: Callable[[str], list[str]],
    database: Database,
    on_change: Callable[[], Awaitable[None]] | None = None,
) -> None:
    async def changed(what: str, request: web.Request, changes: dict[str, Any]) -> None:
        shown = ", ".join(f"{k}={v!r}" for k, v in changes.items())
        log.warning("API: %s changed by %s: %s", what, request.get(TOKEN_NAME, "?"), shown)
        if on_change is not None:
            try:
                await asyncio.wait_for(on_change(), ON_CHANGE_TIMEOUT_S)
            except Exception as exc:  # stored already: the scheduler's own sync picks it up
                log.warning("API: the scheduler will follow on its next sync (%s)", type(exc).__name__)

    async def get_scheduler(_request: web.Request) -> web.Response:
        return json_response(await call(database, load_scheduler_settings))

    async def patch_scheduler(request: web.Request) -> web.Response:
        changes = await read_object(request, SCHEDULER_PATCH)
        row = await call(database, lambda connection: update_scheduler_settings(connection, changes))
        await changed("scheduler", request, changes)
        return json_response(row)

    async def get_nodes(request: web.Request) -> web.Response:
        page, is_active = Page.of(request), is_active_param(request)
        count, rows = await call(
            database, lambda c: list_nodes(c, is_active=is_active, offset=page.offset, limit=page.size)
        )
        return json_response(page.body(request, count, [node_json(row) for row in rows]))

    async def get_one_node(request: web.Request) -> web.Response:
        node_id = node_id_of(request)
        node = await call(database, lambda connection: get_node(connection, node_id))
        if node is None:
            raise web.HTTPNotFound()
        return json_response(node_json(node))

    async def patch_node(request: web.Request) -> web.Response:
        node_id = node_id_of(request)
        changes = await read_object(request, NODE_PATCH)
        node = await call(database, lambda connection: update_node(connection, node_id, changes))
        if node is None:
            raise web.HTTPNotFound()
        await changed(f"node {node['hostname']} (id {node_id})", request, changes)
        return json_response(node_json(node))

    for path in paths("scheduler/"):
        app.router.add_get(path, get_scheduler)
        app.router.add_patch(path, patch_scheduler)
    for path in paths("nodes/"):
        app.router.add_get(path, get_nodes)
    for path in paths("nodes/{node_id}/"):
        app.router.add_get(path, get_one_node)
        app.router.add_patch(path, patch_node)
