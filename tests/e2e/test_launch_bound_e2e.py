"""Launches in flight against the simulated master made slow (``PUT /sim/master/latency``), end to end.

The scheduler runs in-process against the simulator over real HTTP; every 10 ms the test compares the
tries the scheduler has placed with the tasks the master holds. With 200 ms per call and a bound of
4, the scheduler is never more than 4 tries ahead of the master, and every job still ends once.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
from e2ekit import scheduler_against

from scheduler.jobs.definitions import JobType
from scheduler.jobs.messages import build_queue_jobs_for
from scheduler.sim import SimConfig, serve_sim
from scheduler.store.database import Database
from scheduler.store.ingest import store_queue_jobs
from scheduler.store.job_type_rows import upsert_job_types

JOBS = 24
BOUND = 4
WORK = JobType("work", "1", "true", cpus=0.5, mem=64.0, max_tries=3)


async def seed(url: str) -> None:
    database = Database(url)
    try:
        await database.migrate()
        await database.run(lambda connection: upsert_job_types(connection, [WORK]))
        message = build_queue_jobs_for("work", "1", count=JOBS)
        await database.run(lambda connection: store_queue_jobs(connection, message))
    finally:
        await database.close()


async def test_a_slow_master_never_has_more_tries_in_flight_than_the_bound(tmp_path):
    config = SimConfig(agents=3, allocation_interval_s=0.2, task_duration_s=0.2, heartbeat_interval_s=2.0)
    sim = await serve_sim(config, "127.0.0.1", 0)
    await seed(f"sqlite:///{tmp_path}/status.db")
    try:
        async with aiohttp.ClientSession() as session:
            async with session.put(f"{sim.url}/sim/master/latency", json={"ms": 200}) as resp:
                assert resp.status == 200, await resp.text()
        async with scheduler_against(sim, tmp_path, MAX_LAUNCHES_IN_FLIGHT=str(BOUND)) as (daemon, _http):
            state = daemon.engine.state
            ahead_most = in_flight_most = 0
            deadline = time.monotonic() + 90
            while len(state.ended_jobs) < JOBS:
                assert time.monotonic() < deadline, f"{len(state.ended_jobs)} of {JOBS} jobs ended"
                framework = sim.state.frameworks.get(state.framework_id or "")
                held = set(framework.tasks) | {t.id for t in framework.completed_tasks} if framework else set()
                ahead = sum(1 for task_id in state.exes if task_id not in held)
                ahead_most = max(ahead_most, ahead)
                in_flight_most = max(in_flight_most, len(state.launches))
                await asyncio.sleep(0.01)
            print(f"\n{JOBS} jobs, master 200 ms per call: at most {ahead_most} tries ahead of it (bound {BOUND})")
            assert ahead_most <= BOUND and in_flight_most <= BOUND
            assert in_flight_most == BOUND  # the bound was reached: the master was the slower side
    finally:
        await sim.close()
