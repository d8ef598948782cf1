"""Writing what the core recorded, in multi-row statements: a few statements per batch, not one per row.

New tries go in as one INSERT (multi-row ``INSERT ... VALUES`` pages on PostgreSQL); ended tries and the jobs they move go out as
``WITH v(...) AS (VALUES ...) UPDATE ... FROM v`` (PostgreSQL, and SQLite since 3.33), each row of
``v`` typed by its column. The result is that of applying the records one by one, launches first
(a try's launch always comes before its end): duplicates are resolved here, before the statement,
since ``UPDATE ... FROM`` with two rows for one target applies an unpredictable one.

``write_records`` is idempotent: a batch written twice (its first answer lost) changes nothing the
second time, so the runtime may retry it freely.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    Integer,
    String,
    bindparam,
    cast,
    column,
    func,
    insert,
    select,
    type_coerce,
    update,
    values,
)
from sqlalchemy.engine import Connection

from scheduler.core.records import ExeEnded, ExeLaunched, Record
from scheduler.jobs.definitions import ExeStatus, JobStatus
from scheduler.store.tables import job_exe_table, job_table

FINAL_JOB_STATUSES = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED)
ROWS_PER_STATEMENT = 500  # at most 8 parameters a row: well under SQLite's 32,766 and PostgreSQL's 65,535


def _utc(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)


def _chunks(rows: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        yield rows[start : start + ROWS_PER_STATEMENT]


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...] | None  # the parameters' order for a positional driver (SQLite); None: by name
    defaults: dict[str, Any]  # the statement's own parameters (constants in SET and WHERE)
    processors: tuple  # per column of v: SQLAlchemy's conversion of a value for this driver, or None
    keys: tuple[tuple[str, ...], ...]  # per row of v, its cells' parameter names


class UpdateFromValues:
    """``WITH v(...) AS (VALUES ...) UPDATE table SET assign(v) FROM v WHERE where(v)``.

    SQLAlchemy does not cache a statement built on ``VALUES``: compiled for every batch, it costs
    more than the per-row statements it replaces. So the statement is compiled here once per
    dialect and row count, with a bound parameter in every cell, and executed as driver SQL with
    the values converted by the columns' own types. Row counts are rounded up to a power of two
    (the extra rows are NULLs, which match nothing): a handful of shapes.
    """

    def __init__(self, table, columns: tuple, assign: Callable, where: Callable) -> None:
        self.table, self.columns, self.assign, self.where = table, columns, assign, where
        self._compiled: dict[tuple[str, str, int], _Compiled] = {}

    def _compile(self, dialect, rows: int) -> _Compiled:
        compiled = self._compiled.get((dialect.name, dialect.driver, rows))
        if compiled is None:
            # PostgreSQL types a VALUES column by its rows: all NULLs would make it text. Cast each cell.
            # (Not on SQLite, where CAST(... AS DATETIME) would turn a timestamp's text into a number.)
            typed = cast if dialect.name == "postgresql" else type_coerce
            keys = tuple(tuple(f"v{i}_{c.name}" for c in self.columns) for i in range(rows))
            data = [
                tuple(typed(bindparam(key, type_=c.type), c.type) for key, c in zip(row, self.columns, strict=True))
                for row in keys
            ]
            v = values(*[column(c.name, c.type) for c in self.columns], name="v").data(data).cte("v")
            statement = update(self.table).values(self.assign(v.c)).where(self.where(v.c)).compile(dialect=dialect)
            compiled = self._compiled[(dialect.name, dialect.driver, rows)] = _Compiled(
                statement.string,
                tuple(statement.positiontup) if statement.positional else None,
                dict(statement.params),
                tuple(c.type.dialect_impl(dialect).bind_processor(dialect) for c in self.columns),
                keys,
            )
        return compiled

    def execute(self, connection: Connection, rows: list[tuple]) -> None:
        for chunk in _chunks(rows):
            size = min(ROWS_PER_STATEMENT, max(8, 1 << (len(chunk) - 1).bit_length()))
            compiled = self._compile(connection.dialect, size)
            params = dict(compiled.defaults)
            processors = compiled.processors
            for keys, row in zip(compiled.keys, chunk, strict=False):  # padding rows keep their NULLs
                for key, process, value in zip(keys, processors, row, strict=True):
                    params[key] = value if process is None or value is None else process(value)
            if compiled.names is None:
                connection.exec_driver_sql(compiled.sql, params)
            else:
                connection.exec_driver_sql(compiled.sql, tuple(params[name] for name in compiled.names))


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
    for chunk in _chunks([r.task_id for r in launched]):
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
