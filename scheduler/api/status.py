"""GET /v6/status/: the newest snapshot's bytes, or Scale's 503 bodies when it is missing or stale."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from aiohttp import web

from scheduler.api.errors import json_error
from scheduler.status.snapshot import StatusSnapshot

MISSING = "Status is missing. Scheduler may be down."


class StatusSource(Protocol):
    """Where the status comes from: the scheduler's memory, or the database for the api command."""

    freshness_s: float

    def current(self) -> StatusSnapshot | None: ...


def stale_message(freshness_s: float) -> str:
    # Scale formats its float threshold with %d: 12.0 -> "12".
    return "Status is over %d seconds old" % freshness_s  # noqa: UP031 - Scale's exact formatting


def status_handler(source: StatusSource, clock: Callable[[], float] = time.time):
    async def get_status(_request: web.Request) -> web.Response:
        snapshot = source.current()
        if snapshot is None:
            return json_error(503, MISSING)
        if clock() - snapshot.generated_at > source.freshness_s:
            return json_error(503, stale_message(source.freshness_s))
        return web.Response(body=snapshot.body, content_type="application/json")

    return get_status
