"""GET /v6/queue/status/ from a whole scheduler against the simulated master: 500 GPU jobs no agent
can run, queued first and at a higher priority than 100 CPU jobs (Scale issue 1801). The CPU jobs
all run, and the queue status names why the GPU jobs wait."""

from __future__ import annotations

import asyncio
import json
import time

from e2ekit import scheduler_against, status_when
from sqlalchemy import text

from scheduler.jobs.definitions import JobType
from scheduler.jobs.messages import build_queue_jobs_for
from scheduler.messaging.producer import publish_queue_jobs
from scheduler.sim import SimConfig, serve_sim
from scheduler.store.job_type_rows import upsert_job_types

RENDER = JobType("render", "1", "render --gpu", cpus=1.0, mem=64.0, gpus=1.0, title="GPU render")
CRUNCH = JobType("crunch", "1", "crunch", cpus=0.5, mem=64.0, title="CPU crunch")


async def jobs_by_type_and_status(daemon) -> dict[tuple[str, str], int]:
    rows = await daemon.database.run(
        lambda c: c.execute(
            text(
                "SELECT job_type.name, job.status, count(*) FROM job JOIN job_type ON job.job_type_id = job_type.id "
                "GROUP BY job_type.name, job.status"
            )
        ).all()
    )
    return {(name, status): count for name, status, count in rows}


async def test_gpu_jobs_no_agent_can_run_name_their_reason_and_hold_back_no_cpu_job(tmp_path):
    sim = await serve_sim(SimConfig(agents=3, allocation_interval_s=0.2, task_duration_s=0.2), "127.0.0.1", 0)
    overrides = {"MESSAGE_HANDLER_MODE": "in-process", "SCALE_QUEUE_NAME": "gpu-hol-test"}
    try:
        async with scheduler_against(sim, tmp_path, **overrides) as (daemon, http):
            await daemon.database.run(lambda connection: upsert_job_types(connection, [RENDER, CRUNCH]))
            await status_when(
                http, lambda d: len(d["nodes"]) == 3 and all(n["state"]["name"] == "READY" for n in d["nodes"])
            )
            # The GPU jobs first, and ahead of the CPU jobs by priority (lower runs first, as in Scale).
            publish_queue_jobs(daemon.settings, build_queue_jobs_for("render", "1", count=500, priority=1))
            publish_queue_jobs(daemon.settings, build_queue_jobs_for("crunch", "1", count=100, priority=100))
            started = time.monotonic()

            deadline = time.monotonic() + 60
            while (counts := await jobs_by_type_and_status(daemon)).get(("crunch", "COMPLETED"), 0) < 100:
                assert time.monotonic() < deadline, f"the CPU jobs did not all run: {counts}"
                await asyncio.sleep(0.2)
            cpu_done_after = time.monotonic() - started
            assert counts == {("render", "QUEUED"): 500, ("crunch", "COMPLETED"): 100}
            render_exes = await daemon.database.run(
                lambda c: c.execute(
                    text(
                        "SELECT count(*) FROM job_exe JOIN job ON job_exe.job_id = job.id "
                        "JOIN job_type ON job.job_type_id = job_type.id WHERE job_type.name = 'render'"
                    )
                ).scalar()
            )
            assert render_exes == 0

            # The queue status of a snapshot taken after the CPU jobs left the queue.
            deadline = time.monotonic() + 10
            while True:
                async with http.get("/v6/queue/status/") as resp:
                    assert resp.status == 200
                    page = await resp.json()
                if [r["job_type"]["name"] for r in page["results"]] == ["render"] and page["results"][0][
                    "pending_reasons"
                ]:
                    break
                assert time.monotonic() < deadline, f"queue status never settled: {page}"
                await asyncio.sleep(0.2)
            (render,) = page["results"]
            assert (page["count"], page["next"], page["previous"]) == (1, None, None)
            assert (render["count"], render["highest_priority"]) == (500, 1)
            assert render["job_type"]["title"] == "GPU render"
            # Every GPU job waits because no node could ever run it; none waits behind another job
            # (this planner has no head-of-line blocking, so BEHIND_BLOCKED_PRIORITY never appears).
            assert render["pending_reasons"] == {"NO_NODE_FITS": 500}
            print(f"100 CPU jobs completed {cpu_done_after:.1f} s after queueing; queue status: {json.dumps(page)}")
    finally:
        await sim.close()
