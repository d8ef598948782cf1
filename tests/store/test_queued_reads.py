"""Queued jobs read by id: above the highest read, within gaps, and every one at start (paged)."""

import pytest
from sqlalchemy import update

from scheduler.jobs.definitions import JobType
from scheduler.jobs.messages import build_queue_jobs_for
from scheduler.store.database import Database
from scheduler.store.ingest import store_queue_jobs
from scheduler.store.job_type_rows import upsert_job_types
from scheduler.store.scheduling import load_all_queued_jobs, load_queued_jobs
from scheduler.store.tables import job_table

pytestmark = pytest.mark.integration

WORK = JobType("work", "1", "true", cpus=0.1, mem=32.0)


async def test_reads_above_the_highest_and_within_gaps_and_all_in_pages(database_url):
    database = Database(database_url)
    await database.migrate()
    try:
        await database.run(lambda c: upsert_job_types(c, [WORK]))
        message = build_queue_jobs_for("work", "1", count=30)
        await database.run(lambda c: store_queue_jobs(c, message))
        ids = sorted(j.job_id for j in await database.run(lambda c: load_queued_jobs(c)))
        assert len(ids) == 30
        # Two of them are running already: never read as queued.
        await database.run(
            lambda c: c.execute(update(job_table).where(job_table.c.id.in_(ids[5:7])).values(status="RUNNING"))
        )

        above = await database.run(lambda c: load_queued_jobs(c, after_id=ids[20]))
        assert [j.job_id for j in above] == ids[21:]
        gaps = [(ids[2], ids[8]), (ids[12], ids[12])]
        found = await database.run(lambda c: load_queued_jobs(c, after_id=ids[27], gaps=gaps))
        assert [j.job_id for j in found] == [*ids[2:5], *ids[7:9], ids[12], *ids[28:]]
        capped = await database.run(lambda c: load_queued_jobs(c, after_id=0, limit=4))
        assert [j.job_id for j in capped] == ids[:4]

        everything = await database.run(lambda c: load_all_queued_jobs(c, page=7))  # 28 queued, pages of 7
        assert [j.job_id for j in everything] == ids[:5] + ids[7:]
    finally:
        await database.close()
