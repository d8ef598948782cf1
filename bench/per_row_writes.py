"""The per-row record writes that ``scheduler.store.record_writes`` replaced, kept unchanged as the
baseline of ``bench.record_writes`` and the oracle of the multi-row path's tests: one INSERT
executemany, then an UPDATE per row for each job launched, each try ended and each job it moves.
"""

from __future__ import annotations

from sqlalchemy import and_, bindparam, func, insert, select, update
from sqlalchemy.engine import Connection

from scheduler.core.records import ExeEnded, ExeLaunched, Record
from scheduler.jobs.definitions import ExeStatus, JobStatus
from scheduler.store.record_writes import FINAL_JOB_STATUSES, _utc
from scheduler.store.tables import job_exe_table, job_table


def write_records_per_row(connection: Connection, records: list[Record]) -> None:
    """Apply launches and ends in order, in the caller's transaction."""
    launched = [r for r in records if isinstance(r, ExeLaunched)]
    if launched:
        existing = set(
            connection.execute(
                select(job_exe_table.c.task_id).where(job_exe_table.c.task_id.in_([r.task_id for r in launched]))
            ).scalars()
        )
        fresh = [r for r in launched if r.task_id not in existing]
        if fresh:
            connection.execute(
                insert(job_exe_table),
                [
                    {
                        "job_id": r.job_id,
                        "job_type_id": r.job_type_id,
                        "exe_num": r.exe_num,
                        "node_id": r.node_id,
                        "task_id": r.task_id,
                        "status": ExeStatus.RUNNING,
                        "started": _utc(r.started),
                    }
                    for r in fresh
                ],
            )
            connection.execute(
                update(job_table)
                .where(job_table.c.id == bindparam("b_job_id"))
                .values(
                    status=JobStatus.RUNNING,
                    num_exes=bindparam("b_exe_num"),
                    started=func.coalesce(job_table.c.started, bindparam("b_started")),
                    last_modified=bindparam("b_started"),
                ),
                [{"b_job_id": r.job_id, "b_exe_num": r.exe_num, "b_started": _utc(r.started)} for r in fresh],
            )
    ended = [r for r in records if isinstance(r, ExeEnded)]
    if ended:
        connection.execute(
            update(job_exe_table)
            .where(and_(job_exe_table.c.task_id == bindparam("b_task_id"), job_exe_table.c.status == ExeStatus.RUNNING))
            .values(
                status=bindparam("b_status"),
                error_category=bindparam("b_category"),
                exit_code=bindparam("b_exit_code"),
                ended=bindparam("b_ended"),
            ),
            [
                {
                    "b_task_id": r.task_id,
                    "b_status": r.status.value,
                    "b_category": r.category.value if r.category else None,
                    "b_exit_code": r.exit_code,
                    "b_ended": _utc(r.ended),
                }
                for r in ended
            ],
        )
        # The job follows its latest try only (an older try's end arriving late changes nothing).
        connection.execute(
            update(job_table)
            .where(and_(job_table.c.id == bindparam("b_job_id"), job_table.c.num_exes == bindparam("b_exe_num")))
            .values(
                status=bindparam("b_job_status"),
                error_category=bindparam("b_category"),
                ended=bindparam("b_job_ended"),
                last_modified=bindparam("b_ended"),
            ),
            [
                {
                    "b_job_id": r.job_id,
                    "b_exe_num": r.exe_num,
                    "b_job_status": r.job_status.value,
                    "b_category": r.category.value if r.category else None,
                    "b_job_ended": _utc(r.ended) if r.job_status in FINAL_JOB_STATUSES else None,
                    "b_ended": _utc(r.ended),
                }
                for r in ended
            ],
        )
