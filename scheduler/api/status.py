"""GET /v6/status/: the newest snapshot's bytes, or Scale's 503 bodies when it is missing or stale.

The body goes out as the snapshot holds it (plain, or gzip/brotli compressed once per snapshot, on a
thread, as the client accepts), with a strong ``ETag`` per snapshot: a client that already has it gets
304. While a new snapshot is being compressed, requests get the last one compressed (see ``Compressed``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol

from aiohttp import web

from scheduler.api import encodings
from scheduler.api.encodings import CODINGS
from scheduler.api.errors import json_error
from scheduler.api.representation import choose_coding, matches, not_modified, send
from scheduler.status.snapshot import StatusSnapshot

MISSING = "Status is missing. Scheduler may be down."
MIN_COMPRESS_BYTES = 1024  # below this, gzip's framing outweighs what it saves


class StatusSource(Protocol):
    """Where the status comes from: the scheduler's memory, or the database for the api command."""

    freshness_s: float

    def current(self) -> StatusSnapshot | None: ...


def stale_message(freshness_s: float) -> str:
    # Scale formats its float threshold with %d: 12.0 -> "12".
    return "Status is over %d seconds old" % freshness_s  # noqa: UP031 - Scale's exact formatting


class Compressed:
    """Each coding's newest snapshot whose compressed bytes are ready, and the compressions under way.

    A new snapshot comes every second; compressing it takes a thread 10-50 ms at 10,000 nodes. Until
    its bytes are ready the requests get the newest snapshot already compressed (its own ETag and
    timestamp: an older document, never a mixed one), so no request waits for a compression except
    the very first, or one whose only compressed snapshot has gone stale.
    """

    def __init__(self) -> None:
        self.ready: dict[str, StatusSnapshot] = {}
        self._making: dict[str, tuple[StatusSnapshot, asyncio.Task]] = {}

    async def body_for(
        self, snapshot: StatusSnapshot, coding: str, usable: Callable[[StatusSnapshot], bool]
    ) -> tuple[StatusSnapshot, bytes]:
        """The snapshot to send in ``coding`` and its bytes: ``snapshot`` once compressed; while it
        is being compressed, the newest one that is, if ``usable``."""
        body = snapshot.encoded_if_ready(coding)
        if body is not None:
            self._keep(coding, snapshot)
            return snapshot, body
        making = self._start(snapshot, coding)
        previous = self.ready.get(coding)
        if previous is not None and previous.generated_at < snapshot.generated_at and usable(previous):
            return previous, previous.encoded_if_ready(coding)
        return snapshot, await asyncio.shield(making)

    def _start(self, snapshot: StatusSnapshot, coding: str) -> asyncio.Task:
        under_way = self._making.get(coding)
        if under_way is not None and under_way[0] is snapshot:
            return under_way[1]
        task = asyncio.create_task(self._compress(snapshot, coding), name=f"compress-{coding}")
        task.add_done_callback(lambda t: t.cancelled() or t.exception())  # a waiting request gets it
        self._making[coding] = (snapshot, task)
        return task

    async def _compress(self, snapshot: StatusSnapshot, coding: str) -> bytes:
        body = await asyncio.get_running_loop().run_in_executor(None, encodings.encoded, snapshot, coding)
        self._keep(coding, snapshot)
        return body

    def _keep(self, coding: str, snapshot: StatusSnapshot) -> None:
        kept = self.ready.get(coding)
        if kept is None or kept.generated_at < snapshot.generated_at:
            self.ready[coding] = snapshot


def status_handler(source: StatusSource, clock: Callable[[], float] = time.time):
    compressed = Compressed()

    def fresh(snapshot: StatusSnapshot) -> bool:
        return clock() - snapshot.generated_at <= source.freshness_s

    def unchanged(request: web.Request, snapshot: StatusSnapshot) -> bool:
        tags = (snapshot.etag, *(snapshot.etag_for(c) for c in CODINGS))  # any form of this snapshot
        return matches(request.headers.get("If-None-Match"), tags)

    async def get_status(request: web.Request) -> web.StreamResponse:
        snapshot = source.current()
        if snapshot is None:
            return json_error(503, MISSING)
        if not fresh(snapshot):
            return json_error(503, stale_message(source.freshness_s))
        coding = None
        if len(snapshot.body) >= MIN_COMPRESS_BYTES:
            coding = choose_coding(request.headers.get("Accept-Encoding"), CODINGS)
        if unchanged(request, snapshot):
            return not_modified(snapshot.etag_for(coding))
        if coding is None:
            return await send(request, snapshot.body, etag=snapshot.etag, coding=None)
        sent, body = await compressed.body_for(snapshot, coding, fresh)
        if sent is not snapshot and unchanged(request, sent):
            return not_modified(sent.etag_for(coding))
        return await send(request, body, etag=sent.etag_for(coding), coding=coding)

    return get_status
