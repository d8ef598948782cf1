"""Pause and resume against the simulated master: PAUSED within seconds, nothing launched and offers
declined while paused, running work left alone; READY and launching again after resume."""

from __future__ import annotations

import asyncio

import aiohttp
from e2ekit import scheduler_against, status_when
from sqlalchemy import text

from scheduler.commands.operations import pause_node, pause_scheduler
from scheduler.jobs.definitions import JobType
from scheduler.jobs.messages import build_queue_jobs_for
from scheduler.messaging.producer import publish_queue_jobs
from scheduler.sim import SimConfig, serve_sim
from scheduler.store.job_types import upsert_job_types


async def test_pause_and_resume(tmp_path):
    sim = await serve_sim(SimConfig(agents=2, allocation_interval_s=0.2, task_duration_s=0.5), "127.0.0.1", 0)
    overrides = {"MESSAGE_HANDLER_MODE": "in-process", "SCALE_QUEUE_NAME": "pause-test"}
    try:
        async with scheduler_against(sim, tmp_path, **overrides) as (daemon, http):
            settings = daemon.settings
            job_type = JobType("sleepy", "1", "sleep 1", cpus=0.5, mem=64.0)
            await daemon.database.run(lambda connection: upsert_job_types(connection, [job_type]))
            await status_when(http, lambda d: all(n["state"]["name"] == "READY" for n in d["nodes"]) and d["nodes"])

            assert await asyncio.to_thread(pause_scheduler, settings, True) == 0
            paused = await status_when(http, lambda d: d["scheduler"]["state"]["name"] == "PAUSED", timeout=10)
            assert {n["state"]["name"] for n in paused["nodes"]} == {"SCHEDULER_STOPPED"}
            await asyncio.to_thread(publish_queue_jobs, settings, build_queue_jobs_for("sleepy", "1", count=5))
            await asyncio.sleep(4)  # jobs are stored and offers keep coming: none may be used
            launched = await daemon.database.run(lambda c: c.execute(text("SELECT count(*) FROM job_exe")).scalar())
            queued = await daemon.database.run(
                lambda c: c.execute(text("SELECT count(*) FROM job WHERE status = 'QUEUED'")).scalar()
            )
            assert (launched, queued) == (0, 5)
            async with aiohttp.ClientSession() as control, control.get(sim.url + "/master/state") as resp:
                framework = (await resp.json())["frameworks"][0]
            assert framework["offers"] == []  # declined at once, never held
            document = await status_when(http, lambda d: True)
            assert document["num_offers"] == 0 and document["scheduler"]["metrics"]["new_offers_per_sec"] > 0

            assert await asyncio.to_thread(pause_scheduler, settings, False) == 0
            await status_when(http, lambda d: d["scheduler"]["state"]["name"] == "READY", timeout=10)
            resumed = await status_when(
                http, lambda d: sum(n["job_executions"]["completed"]["total"] for n in d["nodes"]) == 5, timeout=20
            )

            # A paused node gets nothing new; the other one takes the work.
            hostname = paused["nodes"][0]["hostname"]
            assert await asyncio.to_thread(pause_node, settings, hostname, True) == 0
            await status_when(
                http, lambda d: any(n["hostname"] == hostname and n["state"]["name"] == "PAUSED" for n in d["nodes"])
            )
            await asyncio.to_thread(publish_queue_jobs, settings, build_queue_jobs_for("sleepy", "1", count=4))
            done = await status_when(
                http, lambda d: sum(n["job_executions"]["completed"]["total"] for n in d["nodes"]) == 9, timeout=20
            )

            def completed_on(document):
                return next(n for n in document["nodes"] if n["hostname"] == hostname)["job_executions"]["completed"]

            assert completed_on(done)["total"] == completed_on(resumed)["total"]  # none of the 4 new ones ran there
            assert await asyncio.to_thread(pause_node, settings, "no-such-host", True) == 2
    finally:
        await sim.close()
