"""The multi-row record writes leave exactly what the per-row writes they replaced left, on SQLite and
PostgreSQL: mixed batches, a try launched and ended in one batch, duplicates, retried batches, chunks
larger than one statement, and a failing row (nothing of its batch stays)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from bench.per_row_writes import write_records_per_row
from scheduler.core.records import ExeEnded, ExeLaunched
from scheduler.jobs.definitions import ErrorCategory, ExeStatus, JobStatus
from scheduler.runtime.writer import RecordWriter
from scheduler.store import multi_row
from scheduler.store.database import Database
from scheduler.store.record_writes import write_records
from scheduler.store.tables import job_exe_table, job_table, job_type_table, node_table

pytestmark = pytest.mark.integration

T0 = 1_780_000_000.0
JOBS = 12


def launch(job: int, exe: int, node: int = 1, at: float = 0.0) -> ExeLaunched:
    return ExeLaunched(job, exe, 1, f"scale-job-{job}-{exe}", node, T0 + at)


def end(job: int, exe: int, *, ok: bool = True, retry: bool = False, exit_code: int | None = 0, at: float = 5.0):
    if ok:
        return ExeEnded(f"scale-job-{job}-{exe}", job, exe, ExeStatus.COMPLETED, None, 0, T0 + at, JobStatus.COMPLETED)
    category = ErrorCategory.SYSTEM if retry else ErrorCategory.ALGORITHM
    job_status = JobStatus.QUEUED if retry else JobStatus.FAILED
    return ExeEnded(f"scale-job-{job}-{exe}", job, exe, ExeStatus.FAILED, category, exit_code, T0 + at, job_status)


def seed(connection, jobs: int = JOBS) -> None:
    at = datetime.fromtimestamp(T0 - 100, UTC)
    connection.execute(
        insert(job_type_table).values(
            id=1, name="t", version="1", cpus=1, mem=1, disk=0, gpus=0, command="c", max_tries=3, created=at,
            last_modified=at,
        )
    )  # fmt: skip
    connection.execute(
        insert(node_table),
        [{"id": n, "hostname": f"h{n}", "agent_id": f"S{n}", "created": at, "last_modified": at} for n in (1, 2)],
    )
    connection.execute(
        insert(job_table),
        [
            {"id": j, "job_type_id": 1, "status": "QUEUED", "num_exes": 0, "queued": at, "last_modified": at}
            for j in range(1, jobs + 1)
        ],
    )


def dump(connection) -> tuple[list, list]:
    jobs = connection.execute(
        select(
            job_table.c.id,
            job_table.c.status,
            job_table.c.num_exes,
            job_table.c.error_category,
            job_table.c.started,
            job_table.c.ended,
            job_table.c.last_modified,
        ).order_by(job_table.c.id)
    ).all()
    exes = connection.execute(
        select(
            job_exe_table.c.task_id,
            job_exe_table.c.job_id,
            job_exe_table.c.exe_num,
            job_exe_table.c.node_id,
            job_exe_table.c.status,
            job_exe_table.c.error_category,
            job_exe_table.c.exit_code,
            job_exe_table.c.started,
            job_exe_table.c.ended,
        ).order_by(job_exe_table.c.task_id)
    ).all()
    return [tuple(r) for r in jobs], [tuple(r) for r in exes]


@pytest.fixture
async def engine(database_url):
    database = Database(database_url)
    await database.migrate()
    yield database.engine
    await database.close()


def outcome(engine, write, batches, jobs: int = JOBS):
    """The tables after ``batches`` were written one transaction each; an error ends the run, and
    what its batch wrote is rolled back. Everything is rolled back at the end (the next run starts
    from the same seed)."""
    with engine.connect() as connection:
        outer = connection.begin()
        seed(connection, jobs)
        error = None
        for batch in batches:
            nested = connection.begin_nested()
            try:
                write(connection, batch)
            except IntegrityError as exc:
                nested.rollback()
                error = type(exc)
                break
            nested.commit()
        state = dump(connection)
        outer.rollback()
    return state, error


def both(engine, batches, jobs: int = JOBS):
    per_row = outcome(engine, write_records_per_row, batches, jobs)
    batched = outcome(engine, write_records, batches, jobs)
    assert batched == per_row
    return batched


MIXED = [
    [launch(1, 1), launch(2, 1, node=2), launch(3, 1), launch(7, 1), launch(8, 1)],
    [
        launch(4, 1, at=1),
        end(4, 1, at=2),  # launched and ended in the same batch
        end(1, 1, ok=False, retry=True, exit_code=None, at=3),  # a SYSTEM failure: back to QUEUED...
        launch(1, 2, node=2, at=4),  # ...and its retry in the same batch
        end(2, 1, ok=False, exit_code=1, at=3),  # an ALGORITHM failure: FAILED for good
        end(3, 1, at=3),
        end(3, 1, at=3),  # the same end twice
        launch(5, 1, at=1),
        end(5, 1, ok=False, retry=True, exit_code=None, at=2),  # launch, end, relaunch in one batch
        launch(5, 2, at=3),
        end(6, 1, at=3),  # a try this scheduler never wrote: nothing changes
        launch(8, 1),  # already written by the first batch (its first answer lost)
        end(7, 1, ok=False, exit_code=2, at=3),
        end(7, 1, at=4),  # a second, different end of a try already ended: only the job follows it
    ],
    [end(1, 1, at=9), end(5, 2, at=6), end(8, 1, at=6)],  # try 1 of job 1 ends late: its job ran on
]


def test_mixed_batches_leave_what_per_row_writes_leave(engine):
    (jobs, exes), error = both(engine, MIXED)
    assert error is None
    by_id = {row[0]: row for row in jobs}
    assert by_id[1][1:3] == ("RUNNING", 2) and by_id[4][1:3] == ("COMPLETED", 1)
    assert by_id[5][1:3] == ("COMPLETED", 2) and by_id[2][1:4] == ("FAILED", 1, "ALGORITHM")
    assert by_id[6][1:3] == ("QUEUED", 0)
    assert len(exes) == 9


def test_a_batch_written_twice_changes_nothing_the_second_time(engine):
    once = both(engine, MIXED)
    assert both(engine, MIXED + MIXED) == once
    assert both(engine, [MIXED[0], MIXED[1], MIXED[1], MIXED[2], MIXED[2]]) == once


def test_a_failing_row_leaves_nothing_of_its_batch(engine):
    failing = [launch(9, 1), end(1, 1, at=3), launch(10, 1, node=99)]  # node 99 does not exist
    (jobs, exes), error = both(engine, [MIXED[0], failing, [launch(11, 1)]])
    assert error is IntegrityError
    assert {row[0] for row in exes} == {f"scale-job-{j}-1" for j in (1, 2, 3, 7, 8)}  # the first batch only
    assert [row[1] for row in jobs if row[0] in (1, 9, 10, 11)] == ["RUNNING", "QUEUED", "QUEUED", "QUEUED"]


def test_batches_larger_than_one_statement(engine, monkeypatch):
    monkeypatch.setattr(multi_row, "ROWS_PER_STATEMENT", 7)
    jobs = 60
    first = [launch(j, 1, node=1 + j % 2, at=j / 100) for j in range(1, jobs + 1)]
    second = [end(j, 1, ok=j % 3 != 0, retry=j % 5 == 0, exit_code=j % 4, at=10 + j) for j in range(1, jobs + 1, 2)]
    second += [launch(j, 2, at=20) for j in range(5, jobs + 1, 10)]
    (rows, exes), error = both(engine, [first, second], jobs)
    assert error is None and len(exes) == jobs + 6


def test_the_same_launch_twice_in_one_batch_is_written_once(engine):
    # One statement per row failed such a batch on the unique task id; written once it is what the
    # per-row writes leave for the batch without the copy.
    batched, error = outcome(engine, write_records, [[launch(1, 1), launch(2, 1), launch(1, 1)]])
    assert error is None
    assert (batched, None) == outcome(engine, write_records_per_row, [[launch(1, 1), launch(2, 1)]])


async def test_the_writer_writes_groups_in_order_through_the_multi_row_path(database_url):
    database = Database(database_url)
    await database.migrate()
    (expected, error) = outcome(database.engine, write_records_per_row, MIXED)  # batch by batch, rolled back
    await database.run(seed)
    writer = RecordWriter(database)
    done = []
    for i, batch in enumerate(MIXED):
        writer.submit(batch, lambda ok, i=i: done.append((i, ok)), droppable=False)
    task = asyncio.create_task(writer.run())  # the three batches make one group, one transaction
    try:
        assert await writer.drain(20)
    finally:
        task.cancel()
    state = await database.run(dump)
    await database.close()
    assert done == [(0, True), (1, True), (2, True)]
    assert writer.written == sum(len(batch) for batch in MIXED)
    assert (state, error) == (expected, None)


def test_a_column_of_nulls_only(engine):
    # Lost tries only: no exit code, no category on the job's end, no final end time. PostgreSQL
    # would type such a VALUES column as text, and refuse it for an integer or a timestamp column.
    launches = [launch(j, 1) for j in (1, 2, 3)]
    lost = [end(j, 1, ok=False, retry=True, exit_code=None) for j in (1, 2, 3)]
    (jobs, exes), error = both(engine, [launches, lost])
    assert error is None
    assert [row[1:3] for row in jobs[:3]] == [("QUEUED", 1)] * 3
    assert [row[4:7] for row in exes] == [("FAILED", "SYSTEM", None)] * 3
