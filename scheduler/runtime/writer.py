"""The record writer: the one ordered path from the core's records to the database.

Batches are written in the order they were submitted, several per transaction, and each batch's
follow-up (the launch, the acknowledgements) runs only once its records are committed. An update's
acknowledgement therefore never overtakes the write of what it reported, even when it carries no
record itself: it waits its turn. A batch that may be dropped (a launch, whose offers will not
wait) is given up when its write fails; any other is retried until the database is back.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from scheduler.backoff import Backoff
from scheduler.core.records import Record
from scheduler.store.database import Database
from scheduler.store.ingest import describe_database_error
from scheduler.store.record_writes import write_records

log = logging.getLogger(__name__)

MAX_RECORDS_PER_WRITE = 500  # a group must commit well within DATABASE_TIMEOUT, even over a slow network
RETRY_FIRST_S = 0.5
RETRY_MAX_S = 10.0


@dataclass(slots=True)
class Batch:
    records: list[Record]
    done: Callable[[bool], None]  # called with True once written, False if given up
    droppable: bool


class RecordWriter:
    def __init__(self, database: Database, secrets: list[str] | None = None) -> None:
        self.database = database
        self.secrets = secrets or []
        self._batches: deque[Batch] = deque()
        self._ready = asyncio.Event()
        self._writing = 0  # batches taken off the queue whose write and follow-ups have not finished
        self.written = 0
        self.failures = 0
        self.error: str | None = None  # the last write error, while writes are failing

    def __len__(self) -> int:
        return len(self._batches)

    def records_waiting(self) -> int:
        """Records submitted and not yet taken to be written (a batch holds one or thousands)."""
        return sum(len(batch.records) for batch in self._batches)

    def submit(self, records: list[Record], done: Callable[[bool], None], *, droppable: bool) -> None:
        self._batches.append(Batch(records, done, droppable))
        self._ready.set()

    async def run(self) -> None:
        backoff = Backoff(RETRY_FIRST_S, RETRY_MAX_S)
        while True:
            if not self._batches:
                self._ready.clear()
                await self._ready.wait()
                continue
            group = self._take_group()
            self._writing = len(group)
            try:
                written = await self._write([record for batch in group for record in batch.records])
            except BaseException:
                self._batches.extendleft(reversed(group))  # cancelled mid-write: still owed
                raise
            finally:
                self._writing = 0
            if written:
                backoff.reset()
                self._finish(group, True)
                continue
            # The group failed: drop what may be dropped; the rest goes back, in order, to retry.
            kept = [batch for batch in group if not batch.droppable]
            self._finish([batch for batch in group if batch.droppable], False)
            self._batches.extendleft(reversed(kept))
            if kept:
                await asyncio.sleep(backoff.next())

    def _take_group(self) -> list[Batch]:
        group, count = [], 0
        while self._batches and (not group or count + len(self._batches[0].records) <= MAX_RECORDS_PER_WRITE):
            batch = self._batches.popleft()
            group.append(batch)
            count += len(batch.records)
        return group

    async def _write(self, records: list[Record]) -> bool:
        if not records:
            return True
        try:
            await self.database.run(lambda connection: write_records(connection, records))
        except Exception as exc:  # the database is down or slow; the batches say what happens next
            self.failures += 1
            error = "timed out" if isinstance(exc, TimeoutError) else describe_database_error(exc, self.secrets)
            if self.error is None:
                log.error("Cannot write %d records to the database: %s", len(records), error)
            self.error = error
            return False
        if self.error is not None:
            log.info("Writing to the database again")
        self.error = None
        self.written += len(records)
        return True

    @staticmethod
    def _finish(batches: list[Batch], ok: bool) -> None:
        for batch in batches:
            try:
                batch.done(ok)
            except Exception:
                log.exception("A follow-up of a database write failed")

    async def drain(self, timeout_s: float) -> bool:
        """Wait until every batch is written (on shutdown); False if some remain."""
        try:
            async with asyncio.timeout(timeout_s):
                while self._batches or self._writing:  # a group being written is not done yet
                    await asyncio.sleep(0.05)
            return True
        except TimeoutError:
            return False
