"""``scale-scheduler api``: the status served from the database alone, as Scale's web tier does.

The scheduler writes its document (gzipped) every few seconds; this reads the row's time each second
and the document only when it changed, and sends gzip clients the stored bytes as they are. A dead
scheduler shows as Scale's "over 12 seconds old" 503.
"""

from __future__ import annotations

import asyncio
import logging

from scheduler.aio import wait_event
from scheduler.api import encodings
from scheduler.status.snapshot import StatusSnapshot
from scheduler.store.database import Database
from scheduler.store.ingest import describe_database_error
from scheduler.store.scheduler_row import StoredStatus, load_status, load_status_time

log = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES = 512 * 1024 * 1024  # inflated; about 50 times the document at 10,000 nodes


def snapshot_of(stored: StoredStatus) -> StatusSnapshot | None:
    """The stored document as a snapshot: inflated once here, its gzip form kept for gzip clients."""
    if stored.time is None:
        return None
    if stored.gzipped is not None:
        snapshot = StatusSnapshot(stored.time.timestamp(), encodings.gunzip(stored.gzipped, MAX_DOCUMENT_BYTES))
        snapshot.keep_encoded("gzip", stored.gzipped)
        return snapshot
    if stored.text:  # written by a scheduler from before migration 0006
        return StatusSnapshot(stored.time.timestamp(), stored.text.encode())
    return None


class DatabaseStatus:
    def __init__(self, database: Database, freshness_s: float, poll_interval_s: float = 1.0) -> None:
        self.database = database
        self.freshness_s = freshness_s
        self.poll_interval_s = poll_interval_s
        self._snapshot: StatusSnapshot | None = None
        self._loaded_time = None
        self.error: str | None = None

    def current(self) -> StatusSnapshot | None:
        return self._snapshot

    async def refresh(self) -> None:
        status_time = await self.database.run(load_status_time)
        if status_time is None or status_time == self._loaded_time:
            return
        stored = await self.database.run(load_status)
        snapshot = await asyncio.to_thread(snapshot_of, stored)
        if snapshot is not None:
            self._snapshot = snapshot
            self._loaded_time = stored.time

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.refresh()
                if self.error is not None:
                    log.info("Reading the status from the database again")
                self.error = None
            except Exception as exc:  # keep serving the last document; its age will tell
                error = "timed out" if isinstance(exc, TimeoutError) else describe_database_error(exc)
                if self.error is None:
                    log.warning("Cannot read the status from the database: %s", error)
                self.error = error
            await wait_event(stop, self.poll_interval_s)
