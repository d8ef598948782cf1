"""``GET /v6/load/``: the queue's load over time, as Scale's queue-load chart reads it.

Scale records job counts by state every minute; here a sampler keeps the same points in memory
(one a minute, a week of them): from the running scheduler's snapshot view, or from the database
where there is none (the ``api`` command, a standby). ``pending_count`` is always 0: jobs here are
queued as soon as they are stored. ``started``/``ended`` (ISO-8601) narrow the range.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import web

from scheduler.api.control import json_response
from scheduler.api.errors import BadRequest
from scheduler.api.pagination import Page
from scheduler.timefmt import iso

log = logging.getLogger(__name__)

SAMPLE_INTERVAL_S = 60.0
KEEP_SAMPLES = 7 * 24 * 60

Sampler = Callable[[], Awaitable[tuple[int, int] | None]]  # (queued, running), or None: nothing known


class LoadHistory:
    def __init__(self, sample: Sampler, interval_s: float = SAMPLE_INTERVAL_S, clock=time.time) -> None:
        self.sample, self.interval_s, self.clock = sample, interval_s, clock
        self.points: deque[tuple[float, int, int]] = deque(maxlen=KEEP_SAMPLES)
        self._failing = True  # quiet until a first sample worked: the database may not be migrated yet

    async def take(self) -> None:
        try:
            counts = await self.sample()
        except Exception as exc:  # the chart has a gap; the API goes on
            if not self._failing:
                log.warning("Load history: cannot sample the queue (%s)", type(exc).__name__)
            self._failing = True
            return
        self._failing = False
        if counts is not None:
            self.points.append((self.clock(), *counts))

    async def run(self) -> None:
        while True:
            # The first point after one interval: nothing reads the database while the API starts,
            # before it is migrated.
            await asyncio.sleep(self.interval_s)
            await self.take()


# RFC 3339 date-time, as OpenAPI's "date-time" format means it (a zone is required).
RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,32}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))"
)


def parse_time(raw: str) -> float:
    match = RFC3339.fullmatch(raw)
    if match is None:
        raise ValueError(raw)
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction = float("0." + match.group(7)) if match.group(7) else 0.0
    offset = 0
    if match.group(9):
        offset = (int(match.group(10)) * 60 + int(match.group(11))) * 60 * (1 if match.group(9) == "+" else -1)
    # A leap second (:60) reads as the next second; datetime has no place for it.
    base = datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC).timestamp()
    return base + (1 if second == 60 else 0) + fraction - offset


def time_param(request: web.Request, name: str) -> float | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        return parse_time(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an RFC 3339 date and time, e.g. 2026-01-01T00:00:00Z") from None


def load_handler(history: LoadHistory):
    async def get_load(request: web.Request) -> web.Response:
        page = Page.of(request)
        started, ended = time_param(request, "started"), time_param(request, "ended")
        points = [
            p for p in history.points if (started is None or p[0] >= started) and (ended is None or p[0] <= ended)
        ]
        results = [
            {"time": iso(t), "pending_count": 0, "queued_count": queued, "running_count": running}
            for t, queued, running in points[page.offset : page.offset + page.size]
        ]
        return json_response(page.body(request, len(points), results))

    return get_load
