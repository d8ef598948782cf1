"""GET /v6/status/: the newest snapshot's bytes, or Scale's 503 bodies when it is missing or stale.

The body goes out as the snapshot holds it (plain, or gzip/brotli compressed once per snapshot, as
the client accepts), with a strong ``ETag`` per snapshot: a client that already has it gets 304.
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


async def encoded(snapshot: StatusSnapshot, coding: str, lock: asyncio.Lock) -> bytes:
    """The compressed body; the first request of a snapshot compresses it on a thread, once (unless
    it was made before the snapshot was published: the previous one was read in this coding)."""
    snapshot.note_read(coding)
    ready = snapshot.encoded_if_ready(coding)
    if ready is not None:
        return ready
    async with lock:  # requests arriving meanwhile wait for the same result instead of redoing it
        return await asyncio.get_running_loop().run_in_executor(None, encodings.encoded, snapshot, coding)


def status_handler(source: StatusSource, clock: Callable[[], float] = time.time):
    locks = {coding: asyncio.Lock() for coding in CODINGS}

    async def get_status(request: web.Request) -> web.StreamResponse:
        snapshot = source.current()
        if snapshot is None:
            return json_error(503, MISSING)
        if clock() - snapshot.generated_at > source.freshness_s:
            return json_error(503, stale_message(source.freshness_s))
        coding = None
        if len(snapshot.body) >= MIN_COMPRESS_BYTES:
            coding = choose_coding(request.headers.get("Accept-Encoding"), CODINGS)
        etag = snapshot.etag_for(coding)
        tags = (snapshot.etag, *(snapshot.etag_for(c) for c in CODINGS))  # any form of this snapshot
        if matches(request.headers.get("If-None-Match"), tags):
            return not_modified(etag)
        body = snapshot.body if coding is None else await encoded(snapshot, coding, locks[coding])
        return await send(request, body, etag=etag, coding=coding)

    return get_status
