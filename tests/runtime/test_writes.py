"""The order and fate of records: what may be dropped when the database fails, and what waits."""

from __future__ import annotations

import asyncio

import pytest

from scheduler.config import load_settings
from scheduler.core.actions import Actions, Launch
from scheduler.core.records import ExeEnded, ExeLaunched
from scheduler.core.state import CoreState
from scheduler.jobs.definitions import ErrorCategory, ExeStatus, JobStatus
from scheduler.runtime.engine import Engine
from scheduler.runtime.writer import RecordWriter
from scheduler.tasks.status import TaskState, TaskStatus

LAUNCHED = ExeLaunched(1, 1, 1, "scale-job-1-1", 1, 0.0)
ENDED = ExeEnded("scale-job-1-1", 1, 1, ExeStatus.FAILED, ErrorCategory.SYSTEM, None, 1.0, JobStatus.QUEUED)


class FakeWriter:
    def __init__(self):
        self.batches = []
        self.error = None

    def __len__(self):
        return 0

    def submit(self, records, done, *, droppable):
        self.batches.append((records, droppable))


@pytest.fixture
def engine(tmp_path):
    settings = load_settings({}, overrides={"DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    # execute() needs a driver; nothing here reaches it
    return Engine(settings, CoreState(hostname="h", now=0.0), database=None, writer=FakeWriter(), driver=object())


@pytest.mark.parametrize(
    "actions, droppable",
    [
        (Actions(records=[LAUNCHED], launch=[Launch("S1", ["O1"], [])]), True),
        # The end of a try reported by the master itself (no uuid, nothing to acknowledge): kept.
        (Actions(records=[ENDED]), False),
        (Actions(records=[ENDED], acknowledge=[TaskStatus("t", TaskState.LOST, uuid="x")]), False),
        (Actions(acknowledge=[TaskStatus("t", TaskState.RUNNING, uuid="x")]), False),
    ],
    ids=["launch", "end-without-ack", "end-with-ack", "ack-only"],
)
def test_only_launches_may_be_dropped(engine, actions, droppable):
    engine.execute(actions)
    assert engine.writer.batches == [(actions.records, droppable)]


class FlakyDatabase:
    """Fails the first ``failures`` writes with a connection error, then runs them."""

    def __init__(self, failures: int):
        self.failures = failures

    async def run(self, work, timeout_s=None):
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database down")
        work(None)


async def test_writer_drops_launches_and_retries_ends_in_order(monkeypatch):
    written = []
    monkeypatch.setattr("scheduler.runtime.writer.write_records", lambda connection, records: written.extend(records))
    writer = RecordWriter(FlakyDatabase(failures=1))
    outcomes = []
    writer.submit([LAUNCHED], lambda ok: outcomes.append(("launch", ok)), droppable=True)
    writer.submit([ENDED], lambda ok: outcomes.append(("end", ok)), droppable=False)
    writer.submit([], lambda ok: outcomes.append(("ack", ok)), droppable=False)
    task = asyncio.create_task(writer.run())
    assert await writer.drain(5)
    task.cancel()
    assert outcomes == [("launch", False), ("end", True), ("ack", True)]  # the acknowledgement waited its turn
    assert written == [ENDED]
    assert writer.error is None  # recovered


class HeldDatabase:
    """Writes wait until released: a group stays in flight as long as the test wants."""

    def __init__(self):
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def run(self, work, timeout_s=None):
        self.started.set()
        await self.release.wait()
        work(None)


async def test_drain_waits_for_the_group_being_written(monkeypatch):
    monkeypatch.setattr("scheduler.runtime.writer.write_records", lambda connection, records: None)
    database = HeldDatabase()
    writer = RecordWriter(database)
    outcomes = []
    writer.submit([ENDED], outcomes.append, droppable=False)
    task = asyncio.create_task(writer.run())
    await database.started.wait()  # taken off the queue, not written yet
    assert await writer.drain(0.2) is False
    assert outcomes == []
    database.release.set()
    assert await writer.drain(5) is True
    assert outcomes == [True]  # drained means its follow-up ran too
    task.cancel()


async def test_a_group_cancelled_mid_write_is_still_owed(monkeypatch):
    monkeypatch.setattr("scheduler.runtime.writer.write_records", lambda connection, records: None)
    database = HeldDatabase()
    writer = RecordWriter(database)
    writer.submit([ENDED], lambda ok: None, droppable=False)
    task = asyncio.create_task(writer.run())
    await database.started.wait()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert len(writer) == 1  # counted as unwritten at shutdown, not silently gone
