"""``GET /v6/load/``: the queue's load over time, as Scale's queue-load chart reads it.

Scale records job counts by state every minute; here a sampler keeps the same points in memory
(one a minute, a week of them): from the running scheduler's snapshot view, or from the database
where there is none (the ``api`` command, a standby). ``pending_count`` is always 0: jobs here are
queued as soon as they are stored. ``started``/``ended`` (ISO-8601) narrow the range.

``job_type_id`` (repeated, as the Favorites tab of Scale's dashboard sends it) counts only those job
types. Each point keeps its counts per job type too, packed (24 bytes a type), within a budget for the
whole history: past it the oldest points lose their detail, and a filtered answer leaves out the
points without it rather than count their jobs as another type's. ``job_type_name`` is refused with a
400 that says to use ``job_type_id``: the points know job types by id only.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from array import array
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web

from scheduler.api.control import json_response
from scheduler.api.errors import BadRequest
from scheduler.api.pagination import Page
from scheduler.timefmt import iso

log = logging.getLogger(__name__)

SAMPLE_INTERVAL_S = 60.0
KEEP_SAMPLES = 7 * 24 * 60
# Job types counted across the points' detail at most (24 bytes each: 12 MB): a week of points with 50
# job types queued or running each minute fits; more, and the oldest points keep their totals only.
MAX_TYPE_ENTRIES = 500_000
MAX_JOB_TYPE_IDS = 50  # job_type_id values in one request (the OpenAPI document says the same)
JOB_TYPE_ID = re.compile(r"[0-9]{1,10}")
MAX_JOB_TYPE_ID = 2**31 - 1  # job type ids are the database's INTEGER


@dataclass(frozen=True, slots=True)
class LoadSample:
    queued: int
    running: int
    by_type: Mapping[int, tuple[int, int]] | None = None  # job type id -> (queued, running); None: not known

    @classmethod
    def of(cls, by_type: Mapping[int, tuple[int, int]]) -> LoadSample:
        """A sample from its counts per job type (the totals are their sums)."""
        return cls(sum(q for q, _ in by_type.values()), sum(r for _, r in by_type.values()), by_type)


Sampler = Callable[[], Awaitable[LoadSample | None]]  # None: nothing known


@dataclass(slots=True)
class LoadPoint:
    time: float
    queued: int
    running: int
    detail: array | None  # job type id, queued, running, ... (int64); None: not kept

    def counts_of(self, job_type_ids: frozenset[int]) -> tuple[int, int]:
        detail = self.detail
        queued = running = 0
        for index in range(0, len(detail), 3):
            if detail[index] in job_type_ids:
                queued += detail[index + 1]
                running += detail[index + 2]
        return queued, running


def _packed(by_type: Mapping[int, tuple[int, int]] | None) -> array | None:
    if by_type is None:
        return None
    packed = array("q")
    for job_type_id, (queued, running) in sorted(by_type.items()):
        if queued or running:
            packed.extend((job_type_id, queued, running))
    return packed


class LoadHistory:
    def __init__(self, sample: Sampler, interval_s: float = SAMPLE_INTERVAL_S, clock=time.time) -> None:
        self.sample, self.interval_s, self.clock = sample, interval_s, clock
        self.points: deque[LoadPoint] = deque()
        self._detailed: deque[LoadPoint] = deque()  # the points still with their detail, oldest first
        self._entries = 0  # job types in their detail
        self._failing = True  # quiet until a first sample worked: the database may not be migrated yet

    def add(self, at: float, sample: LoadSample) -> None:
        point = LoadPoint(at, sample.queued, sample.running, _packed(sample.by_type))
        if len(self.points) == KEEP_SAMPLES:
            self._forget_detail(self.points.popleft())
        self.points.append(point)
        if point.detail is not None:
            self._detailed.append(point)
            self._entries += len(point.detail) // 3
        while self._entries > MAX_TYPE_ENTRIES and self._detailed:
            self._forget_detail(self._detailed[0])

    def _forget_detail(self, point: LoadPoint) -> None:
        if point.detail is None:
            return
        self._entries -= len(point.detail) // 3
        point.detail = None
        if self._detailed and self._detailed[0] is point:  # always the oldest detailed one
            self._detailed.popleft()

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
            self.add(self.clock(), counts)

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


def job_type_ids_param(request: web.Request) -> frozenset[int] | None:
    """The ``job_type_id`` values asked for; None when there are none (every job type)."""
    if "job_type_name" in request.query:
        raise BadRequest("job_type_name is not supported here: filter by job_type_id")
    values = request.query.getall("job_type_id", [])
    if not values:
        return None
    if len(values) > MAX_JOB_TYPE_IDS:
        raise BadRequest(f"at most {MAX_JOB_TYPE_IDS} job_type_id values")
    if not all(JOB_TYPE_ID.fullmatch(value) and int(value) <= MAX_JOB_TYPE_ID for value in values):
        raise BadRequest("job_type_id must be a job type's id, a whole number")
    return frozenset(int(value) for value in values)


def load_handler(history: LoadHistory):
    async def get_load(request: web.Request) -> web.Response:
        page = Page.of(request)
        started, ended = time_param(request, "started"), time_param(request, "ended")
        job_type_ids = job_type_ids_param(request)
        points = [
            p
            for p in history.points
            if (started is None or p.time >= started)
            and (ended is None or p.time <= ended)
            and (job_type_ids is None or p.detail is not None)
        ]
        results = []
        for point in points[page.offset : page.offset + page.size]:
            queued, running = (point.queued, point.running) if job_type_ids is None else point.counts_of(job_type_ids)
            results.append(
                {"time": iso(point.time), "pending_count": 0, "queued_count": queued, "running_count": running}
            )
        return json_response(page.body(request, len(points), results))

    return get_load
