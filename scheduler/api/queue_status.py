"""``GET /v6/queue/status/``: the queued jobs grouped by job type, in Scale's shape, with the reasons
they wait.

Each result is Scale's ``job_type``, ``count``, ``longest_queued`` and ``highest_priority``, plus
``pending_reasons``: how many jobs of the type the last scheduling cycle left unplaced, by reason
(e.g. ``{"NO_NODE_FITS": 480, "BEHIND_BLOCKED_PRIORITY": 20}``). A running scheduler answers from
its newest snapshot's view; without one (the ``api`` command, a standby) the database is asked, at
most once a second, and the reasons are empty. Bodies, their compressed forms and their ETags are
made once per snapshot (or database read) and page.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from scheduler.api.control import call
from scheduler.api.encodings import CODINGS, compress
from scheduler.api.pagination import Page
from scheduler.api.representation import choose_coding, matches, not_modified, send
from scheduler.api.status import MIN_COMPRESS_BYTES, StatusSource
from scheduler.status.view import QueueTypeSummary
from scheduler.store.database import Database
from scheduler.store.v6_resources import job_types_by_id, queued_by_job_type
from scheduler.timefmt import iso

DATABASE_TTL_S = 1.0
JOB_TYPES_TTL_S = 60.0
MAX_CACHED_PAGES = 64


class QueueSource:
    def __init__(
        self, status: StatusSource | None, database: Database | None, clock: Callable[[], float] = time.time
    ) -> None:
        self.status, self.database, self.clock = status, database, clock
        self._key: object = None
        self._results: list[dict[str, Any]] = []
        self._lock = asyncio.Lock()
        self._job_types: dict[int, dict[str, Any]] = {}
        self._job_types_read = float("-inf")

    def _view(self):
        snapshot = self.status.current() if self.status is not None else None
        if snapshot is not None and snapshot.view is not None:
            return snapshot
        return None

    async def current(self) -> tuple[object, list[dict[str, Any]]]:
        """A key naming this state of the queue, and its results (not paginated)."""
        async with self._lock:
            snapshot = self._view()
            if snapshot is not None:
                key: object = ("view", snapshot.etag)
                if key != self._key:
                    self._results = await self._from_view(snapshot.view.queue)
            elif self.database is not None:
                key = ("database", int(self.clock() / DATABASE_TTL_S))
                if key != self._key:
                    self._results = await self._from_database()
            else:
                key, self._results = ("none",), []
            self._key = key
            return key, self._results

    async def _details(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        now = self.clock()
        if now - self._job_types_read > JOB_TYPES_TTL_S:
            self._job_types, self._job_types_read = {}, now
        missing = [i for i in ids if i not in self._job_types]
        if missing and self.database is not None:
            self._job_types.update(await call(self.database, lambda c: job_types_by_id(c, missing)))
        return self._job_types

    async def _from_view(self, queue: tuple[QueueTypeSummary, ...]) -> list[dict[str, Any]]:
        details = await self._details([q.job_type_id for q in queue])
        results = [
            result(
                details.get(q.job_type_id)
                or {"id": q.job_type_id, "name": q.job_type_name, "version": q.job_type_version},
                q.count,
                q.longest_queued,
                q.highest_priority,
                dict(q.pending_reasons),
            )
            for q in queue
        ]
        return ordered(results)

    async def _from_database(self) -> list[dict[str, Any]]:
        assert self.database is not None
        rows = await call(self.database, queued_by_job_type)
        details = await self._details([r.job_type_id for r in rows])
        return ordered(
            [
                result(
                    details.get(r.job_type_id) or {"id": r.job_type_id},
                    r.count,
                    r.longest_queued.timestamp(),
                    r.highest_priority,
                    {},
                )
                for r in rows
            ]
        )


def job_type_json(details: dict[str, Any]) -> dict[str, Any]:
    """Scale's job type summary; the flags this scheduler has no notion of take Scale's defaults."""
    return {
        "id": details["id"],
        "name": details.get("name", ""),
        "version": details.get("version", ""),
        "title": details.get("title", ""),
        "description": details.get("description", ""),
        "is_system": bool(details.get("is_system", False)),
        "is_long_running": False,
        "is_active": bool(details.get("is_active", True)),
        "is_operational": True,
        "is_paused": False,
        "icon_code": details.get("icon_code", ""),
    }


def result(details, count: int, longest_queued: float, highest_priority: int, reasons: dict) -> dict[str, Any]:
    return {
        "job_type": job_type_json(details),
        "count": count,
        "longest_queued": iso(longest_queued),
        "highest_priority": highest_priority,
        "pending_reasons": reasons,
    }


def ordered(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # What runs first comes first: priority (lower first), then age, then name.
    return sorted(results, key=lambda r: (r["highest_priority"], r["longest_queued"], r["job_type"]["name"]))


def queue_status_handler(source: QueueSource):
    cache: dict[tuple, tuple[str, bytes, dict[str, bytes]]] = {}
    cache_key: list[object] = [None]

    async def get_queue_status(request: web.Request) -> web.StreamResponse:
        page = Page.of(request)
        key, results = await source.current()
        if key != cache_key[0]:
            cache.clear()
            cache_key[0] = key
        entry = cache.get((request.path_qs,))
        if entry is None:
            body = orjson.dumps(page.body(request, len(results), results[page.offset : page.offset + page.size]))
            entry = (hashlib.blake2b(body, digest_size=12).hexdigest(), body, {})
            if len(cache) >= MAX_CACHED_PAGES:
                cache.clear()
            cache[(request.path_qs,)] = entry
        digest, body, encoded = entry
        coding = (
            choose_coding(request.headers.get("Accept-Encoding"), CODINGS) if len(body) >= MIN_COMPRESS_BYTES else None
        )
        etag = f'"{digest}"' if coding is None else f'"{digest}-{coding}"'
        if matches(request.headers.get("If-None-Match"), [f'"{digest}"', *(f'"{digest}-{c}"' for c in CODINGS)]):
            return not_modified(etag)
        if coding is not None:
            if coding not in encoded:
                encoded[coding] = compress(body, coding)  # a few KB: once per page and queue state
            body = encoded[coding]
        return await send(request, body, etag=etag, coding=coding)

    return get_queue_status
