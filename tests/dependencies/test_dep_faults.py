"""Dependencies that fail while the scheduler runs (issue 10, item 8), end to end: PostgreSQL
refusing connections shows in ``dependencies.database`` at the first failed write, not at the next
probe. The database is cut with a TCP forwarder in the test, so the real PostgreSQL goes on serving
the other tests. Figures are printed (``-s``). (RabbitMQ cut off: test_dep_broker.py for the depth,
tests/ingest/test_ingest_reconnect.py for the handler.)"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

import aiohttp
import pytest
import sqlalchemy
from depkit import Forwarder
from e2ekit import scheduler_against, status_when

from scheduler.jobs.definitions import JobType
from scheduler.jobs.messages import build_queue_jobs_for
from scheduler.runtime import leadership
from scheduler.sim import SimConfig, serve_sim
from scheduler.store.database import Database, normalize_url
from scheduler.store.ingest import store_queue_jobs
from scheduler.store.job_type_rows import upsert_job_types

pytestmark = pytest.mark.integration


async def until(predicate, timeout: float) -> float:
    """Poll in-process state every 20 ms until ``predicate`` holds; when it did."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "never happened"
        await asyncio.sleep(0.02)
    return time.monotonic()


@pytest.fixture
def clean_postgres(postgres_url):
    engine = sqlalchemy.create_engine(normalize_url(postgres_url), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    engine.dispose()
    return postgres_url


async def test_database_refusing_connections_is_not_ok_at_the_first_failed_write(
    tmp_path, clean_postgres, started, monkeypatch
):
    # The leader stops within CHECK_S of losing its lock's session, by design; here it must stay up
    # long enough for the status to be read after the cut.
    monkeypatch.setattr(leadership, "CHECK_S", 3600.0)
    parts = urlsplit(clean_postgres)
    forwarder = await started(Forwarder(parts.hostname, parts.port or 5432))
    url = forwarder.url_for(clean_postgres)
    seed = Database(url)
    try:
        await seed.migrate()
        await seed.run(lambda c: upsert_job_types(c, [JobType("sleepy", "1", "sleep 600", cpus=0.5, mem=64.0)]))
        await seed.run(lambda c: store_queue_jobs(c, build_queue_jobs_for("sleepy", "1")))
    finally:
        await seed.close()
    sim = await serve_sim(SimConfig(agents=1, allocation_interval_s=0.2, task_duration_s=0.5), "127.0.0.1", 0)
    async with aiohttp.ClientSession() as control:  # the job runs until the test ends it
        rule = {"command_contains": "sleep 600", "state": "TASK_FINISHED", "exit_code": 0, "duration": 600}
        assert (await control.post(f"{sim.url}/sim/outcomes", json=rule)).status in (200, 201)
    # The probe runs once, at the start: whatever turns the section not OK after the cut is the writer.
    overrides = {"DATABASE_URL": url, "PROBE_INTERVAL": "3600", "STATUS_INTERVAL": "0.25"}
    try:
        async with scheduler_against(sim, tmp_path, **overrides) as (daemon, http):
            await status_when(
                http,
                lambda d: (
                    d["dependencies"]["database"]["OK"] is True
                    and sum(n["job_executions"]["running"]["total"] for n in d["nodes"]) == 1
                ),
                timeout=20,
            )
            (task_id,) = [t for t in daemon.engine.state.exes]
            writer = daemon.engine.writer
            failures = writer.failures
            await forwarder.cut()
            async with aiohttp.ClientSession() as control:
                resp = await control.put(f"{sim.url}/sim/tasks/{task_id}", json={"exit_code": 0})
                assert resp.status == 200
            failed_at = await until(lambda: writer.failures > failures, timeout=10)  # the try's end
            down = await status_when(http, lambda d: d["dependencies"]["database"]["OK"] is False, timeout=2)
            shown_after = time.monotonic() - failed_at
            assert daemon.monitor.results()["database"].ok  # the probe has not run since the cut
            (error,) = down["dependencies"]["database"]["errors"]
            assert error["OPERATIONAL_ERROR"].startswith("Database writes failing: ")
            assert "refused" in error["OPERATIONAL_ERROR"]

            await forwarder.restore()
            restored_at = time.monotonic()
            await status_when(http, lambda d: d["dependencies"]["database"]["OK"] is True, timeout=15)
            print(
                f"\ndatabase cut: dependencies.database not OK {shown_after:.2f} s after the first failed write;"
                f" OK again {time.monotonic() - restored_at:.2f} s after the database came back (the write retried)"
            )
    finally:
        await sim.close()
