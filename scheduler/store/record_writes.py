"""Writing what the core recorded, in multi-row statements: a few statements per batch, not one per row.

New tries go in as one INSERT (multi-row ``INSERT ... VALUES`` pages on PostgreSQL); ended tries
and the jobs they move go out as ``WITH v(...) AS (VALUES ...) UPDATE ... FROM v`` (PostgreSQL, and
SQLite since 3.33; see ``multi_row``). The result is that of applying the records one by one, launches first
(a try's launch always comes before its end): duplicates are resolved here, before the statement,
since ``UPDATE ... FROM`` with two rows for one target applies an unpredictable one.

``write_records`` is idempotent: a batch written twice (its first answer lost) changes nothing the
second time, so the runtime may retry it freely.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, Integer, String, column, func, insert, select
from sqlalchemy.engine import Connection

from scheduler.core.records import ExeEnded, ExeLaunched, Record
from scheduler.jobs.definitions import ExeStatus, JobStatus
from scheduler.store.multi_row import UpdateFromValues, chunks
from scheduler.store.tables import job_exe_table, job_table

FINAL_JOB_STATUSES = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED)


def _utc(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)


JOBS_LAUNCHED = UpdateFromValues(
    job_table,
    (
        column("job_id", Integer),
        column("exe_num", Integer),
        column("first_started", DateTime(timezone=True)),
        column("last_started", DateTime(timezone=True)),
    ),
    lambda v: {
        "status": JobStatus.RUNNING.value,
        "num_exes": v.exe_num,
        "started": func.coalesce(job_table.c.started, v.first_started),
        "last_modified": v.last_started,
    },
    lambda v: job_table.c.id == v.job_id,
)
EXES_ENDED = UpdateFromValues(
    job_exe_table,
    (
        column("task_id", String),
        column("status", String),
        column("category", String),
        column("exit_code", Integer),
        column("ended", DateTime(timezone=True)),
    ),
    lambda v: {"status": v.status, "error_category": v.category, "exit_code": v.exit_code, "ended": v.ended},
    lambda v: (job_exe_table.c.task_id == v.task_id) & (job_exe_table.c.status == ExeStatus.RUNNING.value),
)
# The job follows its latest try only: an older try's end arriving late changes nothing.
JOBS_ENDED = UpdateFromValues(
    job_table,
    (
        column("job_id", Integer),
        column("exe_num", Integer),
        column("job_status", String),
        column("category", String),
        column("job_ended", DateTime(timezone=True)),
        column("ended", DateTime(timezone=True)),
    ),
    lambda v: {"status": v.job_status, "error_category": v.category, "ended": v.job_ended, "last_modified": v.ended},
    lambda v: (job_table.c.id == v.job_id) & (job_table.c.num_exes == v.exe_num),
)


def write_records(connection: Connection, records: list[Record]) -> None:
    """Apply launches, then ends, in the caller's transaction."""
    launched: dict[str, ExeLaunched] = {}
    for record in records:
        if isinstance(record, ExeLaunched):
            launched.setdefault(record.task_id, record)  # the same launch twice is written once
    if launched:
        _write_launches(connection, list(launched.values()))
    ended = [r for r in records if isinstance(r, ExeEnded)]
    if ended:
        _write_ends(connection, ended)


def _write_launches(connection: Connection, launched: list[ExeLaunched]) -> None:
    existing: set[str] = set()
    for chunk in chunks([r.task_id for r in launched]):
        existing.update(
            connection.execute(select(job_exe_table.c.task_id).where(job_exe_table.c.task_id.in_(chunk))).scalars()
        )
    fresh = [r for r in launched if r.task_id not in existing]
    if not fresh:
        return
    # One compiled INSERT for any number of rows: SQLAlchemy sends it as multi-row VALUES pages on
    # PostgreSQL (insertmanyvalues) and through the driver's executemany on SQLite (in process).
    connection.execute(
        insert(job_exe_table),
        [
            {
                "job_id": r.job_id,
                "job_type_id": r.job_type_id,
                "exe_num": r.exe_num,
                "node_id": r.node_id,
                "task_id": r.task_id,
                "status": ExeStatus.RUNNING.value,
                "started": _utc(r.started),
            }
            for r in fresh
        ],
    )
    # Per job, as if its launches were applied in order: the last try counts, the first start stays.
    jobs: dict[int, tuple] = {}
    for r in fresh:
        first_started = jobs[r.job_id][2] if r.job_id in jobs else _utc(r.started)
        jobs[r.job_id] = (r.job_id, r.exe_num, first_started, _utc(r.started))
    JOBS_LAUNCHED.execute(connection, list(jobs.values()))


def _write_ends(connection: Connection, ended: list[ExeEnded]) -> None:
    # A try ends once: its first end record wins (applied in order, a second finds it no longer RUNNING).
    first_end: dict[str, ExeEnded] = {}
    for r in ended:
        first_end.setdefault(r.task_id, r)
    EXES_ENDED.execute(
        connection,
        [
            (r.task_id, r.status.value, r.category.value if r.category else None, r.exit_code, _utc(r.ended))
            for r in first_end.values()
        ],
    )
    # Of two ends of one try, the later record wins for its job, as it would applied in order.
    last_end = {(r.job_id, r.exe_num): r for r in ended}
    JOBS_ENDED.execute(
        connection,
        [
            (
                r.job_id,
                r.exe_num,
                r.job_status.value,
                r.category.value if r.category else None,
                _utc(r.ended) if r.job_status in FINAL_JOB_STATUSES else None,
                _utc(r.ended),
            )
            for r in last_end.values()
        ],
    )
