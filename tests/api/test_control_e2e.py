"""PATCH /v6/scheduler/ and /v6/nodes/{id}/ against a whole scheduler and the simulated master: 401
without a token; with one, PAUSED in the status within 3 s and nothing launched while paused."""

from __future__ import annotations

import asyncio
import time

from e2ekit import scheduler_against, status_when
from sqlalchemy import text

from scheduler.jobs.definitions import JobType
from scheduler.jobs.messages import build_queue_jobs_for
from scheduler.messaging.producer import publish_queue_jobs
from scheduler.sim import SimConfig, serve_sim
from scheduler.store.job_type_rows import upsert_job_types


async def queued_count(http) -> int:
    async with http.get("/v6/queue/status/") as resp:
        assert resp.status == 200
        return sum(result["count"] for result in (await resp.json())["results"])


TOKEN = "e2e-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def test_pause_through_the_api(tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{TOKEN} ops-console\n")
    sim = await serve_sim(SimConfig(agents=2, allocation_interval_s=0.2, task_duration_s=0.5), "127.0.0.1", 0)
    overrides = {
        "MESSAGE_HANDLER_MODE": "in-process",
        "SCALE_QUEUE_NAME": "api-pause-test",
        "API_TOKENS_FILE": str(tokens),
    }
    try:
        async with scheduler_against(sim, tmp_path, **overrides) as (daemon, http):
            job_type = JobType("sleepy", "1", "sleep 1", cpus=0.5, mem=64.0)
            await daemon.database.run(lambda connection: upsert_job_types(connection, [job_type]))
            await status_when(http, lambda d: d["nodes"] and all(n["state"]["name"] == "READY" for n in d["nodes"]))

            async with http.patch("/v6/scheduler/", json={"is_paused": True}) as resp:
                assert resp.status == 401
            started = time.monotonic()
            async with http.patch("/api/v6/scheduler/", json={"is_paused": True}, headers=AUTH) as resp:
                assert resp.status == 200
                assert (await resp.json())["is_paused"] is True
            await status_when(http, lambda d: d["scheduler"]["state"]["name"] == "PAUSED", timeout=3)
            assert time.monotonic() - started < 3.0

            publish_queue_jobs(daemon.settings, build_queue_jobs_for("sleepy", "1", count=4))
            deadline = time.monotonic() + 10
            while await queued_count(http) < 4:  # stored by the in-process handler
                assert time.monotonic() < deadline, "the jobs were never stored"
                await asyncio.sleep(0.1)
            # Offers keep coming while the jobs wait: three snapshots that saw new offers prove the
            # scheduler had work and resources, and launched nothing.
            offered = set()

            def saw_offers(document):
                if document["scheduler"]["metrics"]["new_offers_per_sec"] > 0:
                    offered.add(document["timestamp"])
                return len(offered) >= 3

            await status_when(http, saw_offers, timeout=15)
            launched = await daemon.database.run(lambda c: c.execute(text("SELECT count(*) FROM job_exe")).scalar())
            queued = await daemon.database.run(
                lambda c: c.execute(text("SELECT count(*) FROM job WHERE status = 'QUEUED'")).scalar()
            )
            assert (launched, queued) == (0, 4)

            async with http.patch("/v6/scheduler/", json={"is_paused": False}, headers=AUTH) as resp:
                assert resp.status == 200
            await status_when(http, lambda d: d["scheduler"]["state"]["name"] == "READY", timeout=3)

            # One node, likewise.
            async with http.get("/v6/nodes/?is_active=true") as resp:
                node = (await resp.json())["results"][0]
            started = time.monotonic()
            async with http.patch(
                f"/v6/nodes/{node['id']}/", json={"is_paused": True, "pause_reason": "maintenance"}, headers=AUTH
            ) as resp:
                assert resp.status == 200
            await status_when(
                http,
                lambda d: any(n["id"] == node["id"] and n["state"]["name"] == "PAUSED" for n in d["nodes"]),
                timeout=3,
            )
            assert time.monotonic() - started < 3.0

            # Nothing launches on the paused node: jobs queued after it shows PAUSED all run on the other.
            async with http.patch(f"/v6/nodes/{node['id']}/", json={"is_paused": False}) as resp:
                assert resp.status == 401
            last_job = await daemon.database.run(lambda c: c.execute(text("SELECT max(id) FROM job")).scalar())
            publish_queue_jobs(daemon.settings, build_queue_jobs_for("sleepy", "1", count=6))
            deadline = time.monotonic() + 15
            while True:
                nodes_run_on = await daemon.database.run(
                    lambda c: (
                        c.execute(text("SELECT node_id FROM job_exe WHERE job_id > :last"), {"last": last_job})
                        .scalars()
                        .all()
                    )
                )
                if len(nodes_run_on) >= 6:
                    break
                assert time.monotonic() < deadline, f"only {len(nodes_run_on)} of the 6 jobs launched"
                await asyncio.sleep(0.1)
            assert node["id"] not in nodes_run_on
    finally:
        await sim.close()
