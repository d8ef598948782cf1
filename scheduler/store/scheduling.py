"""Queries of the scheduling side: jobs to run, tries running and ended. What happened is written by
``scheduler.store.record_writes``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Connection

from scheduler.jobs.definitions import ErrorCategory, ExeStatus, JobStatus
from scheduler.jobs.executions import RunningExe
from scheduler.jobs.queue import QueuedJob
from scheduler.store.tables import job_exe_table, job_table, node_table


def _utc(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)


def _epoch(value: datetime) -> float:
    if value.tzinfo is None:  # SQLite hands timestamps back without their zone; they are UTC
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


QUEUED_PAGE = 50_000  # rows of one read: a burst is read over several rounds, each a bounded query


def load_queued_jobs(
    connection: Connection, after_id: int = 0, limit: int = QUEUED_PAGE, gaps: Sequence[tuple[int, int]] = ()
) -> list[QueuedJob]:
    """Queued jobs with an id above ``after_id`` or within one of the ``gaps`` (inclusive id
    ranges), by id, at most ``limit``."""
    ids = job_table.c.id > after_id
    if gaps:
        ids = or_(ids, *(job_table.c.id.between(low, high) for low, high in gaps))
    rows = connection.execute(
        select(job_table.c.id, job_table.c.job_type_id, job_table.c.priority, job_table.c.queued, job_table.c.num_exes)
        .where(and_(job_table.c.status == JobStatus.QUEUED, ids))
        .order_by(job_table.c.id)
        .limit(limit)
    )
    return [QueuedJob(r.id, r.job_type_id, r.priority, _epoch(r.queued), r.num_exes) for r in rows]


def load_all_queued_jobs(connection: Connection, page: int = QUEUED_PAGE) -> list[QueuedJob]:
    """Every queued job (at start), read in pages by id: no limit on the queue's length."""
    jobs: list[QueuedJob] = []
    while True:
        batch = load_queued_jobs(connection, jobs[-1].job_id if jobs else 0, page)
        jobs += batch
        if len(batch) < page:
            return jobs


@dataclass(frozen=True, slots=True)
class RunningRow:
    exe: RunningExe
    priority: int
    queued_at: float


def load_running_exes(connection: Connection) -> list[RunningRow]:
    rows = connection.execute(
        select(
            job_exe_table.c.job_id,
            job_exe_table.c.exe_num,
            job_exe_table.c.job_type_id,
            job_exe_table.c.task_id,
            job_exe_table.c.node_id,
            job_exe_table.c.started,
            node_table.c.agent_id,
            job_table.c.priority,
            job_table.c.queued,
        )
        .join(node_table, node_table.c.id == job_exe_table.c.node_id)
        .join(job_table, job_table.c.id == job_exe_table.c.job_id)
        .where(job_exe_table.c.status == ExeStatus.RUNNING)
    )
    return [
        RunningRow(
            RunningExe(r.job_id, r.exe_num, r.job_type_id, r.task_id, r.node_id, r.agent_id or "", _epoch(r.started)),
            r.priority,
            _epoch(r.queued),
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class FinishedRow:
    node_id: int
    job_type_id: int
    status: ExeStatus
    category: ErrorCategory | None
    ended: float


def load_finished_exes(connection: Connection, since: float) -> list[FinishedRow]:
    rows = connection.execute(
        select(
            job_exe_table.c.node_id,
            job_exe_table.c.job_type_id,
            job_exe_table.c.status,
            job_exe_table.c.error_category,
            job_exe_table.c.ended,
        ).where(
            and_(
                job_exe_table.c.ended >= _utc(since),
                job_exe_table.c.status.in_([ExeStatus.COMPLETED, ExeStatus.FAILED]),
            )
        )
    )
    return [
        FinishedRow(
            r.node_id,
            r.job_type_id,
            ExeStatus(r.status),
            ErrorCategory(r.error_category) if r.error_category else None,
            _epoch(r.ended),
        )
        for r in rows
    ]


def count_exes_by_node(connection: Connection, since: float, until: float) -> dict[int, dict[str, int]]:
    """Per node, as of ``until``: tries running then, and tries ended in [since, until] by bucket,
    as a status generated at ``until`` counts them."""
    counts: dict[int, dict[str, int]] = {}

    def bump(node_id: int, bucket: str, n: int) -> None:
        counts.setdefault(node_id, {"running": 0, "completed": 0, "data": 0, "algorithm": 0, "system": 0})
        counts[node_id][bucket] += n

    at = _utc(until)
    running = connection.execute(
        select(job_exe_table.c.node_id, func.count())
        .where(
            and_(
                job_exe_table.c.started <= at,
                (job_exe_table.c.ended.is_(None)) | (job_exe_table.c.ended > at),
            )
        )
        .group_by(job_exe_table.c.node_id)
    )
    for node_id, n in running:
        bump(node_id, "running", n)
    ended = connection.execute(
        select(job_exe_table.c.node_id, job_exe_table.c.status, job_exe_table.c.error_category, func.count())
        .where(
            and_(
                job_exe_table.c.ended >= _utc(since),
                job_exe_table.c.ended <= at,
                job_exe_table.c.status.in_(["COMPLETED", "FAILED"]),
            )
        )
        .group_by(job_exe_table.c.node_id, job_exe_table.c.status, job_exe_table.c.error_category)
    )
    for node_id, status, category, n in ended:
        if status == ExeStatus.COMPLETED:
            bump(node_id, "completed", n)
        elif category in ("DATA", "ALGORITHM", "SYSTEM"):  # UNKNOWN (no exit status) counts nowhere
            bump(node_id, category.lower(), n)
    return counts
