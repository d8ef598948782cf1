"""GPU placement end to end (issue 10, "What it must show"): a simulated cluster of four
agents without GPUs and two with one GPU each; GPU and non-GPU jobs queued. No non-GPU job lands
on a GPU agent while an agent without GPUs has room. Jobs run 60 s, so no room frees meanwhile:
each phase waits for its tasks to run (an event) and then reads where they are."""

from __future__ import annotations

import asyncio
from collections import Counter

from e2ekit import scheduler_against, status_when

from scheduler.jobs.definitions import JobType
from scheduler.jobs.messages import build_queue_jobs_for
from scheduler.messaging.producer import publish_queue_jobs
from scheduler.sim import SimConfig, serve_sim
from scheduler.store.database import Database
from scheduler.store.job_type_rows import upsert_job_types

PLAIN = JobType("plain-work", "1", "plain-work", cpus=1.0, mem=64.0)
GPU = JobType("gpu-work", "1", "gpu-work", cpus=1.0, mem=64.0, gpus=1.0)


def running(sim) -> list:
    return [
        t
        for fw in sim.state.frameworks.values()
        for t in fw.tasks.values()
        if t.id.startswith("scale-job-") and t.state == "TASK_RUNNING"
    ]


async def until(predicate, timeout: float, what: str):
    try:
        async with asyncio.timeout(timeout):
            while not (result := predicate()):
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(what) from None
    return result


async def test_no_plain_job_on_a_gpu_agent_while_a_plain_agent_has_room(tmp_path):
    # The GPU agents are registered first, so their offers come first: placement in offer order
    # would fill them first.
    sim = await serve_sim(
        SimConfig(agents=2, agent_cpus=4.0, agent_gpus=1.0, allocation_interval_s=0.2, task_duration_s=0.3),
        "127.0.0.1",
        0,
    )
    gpu_agents = set(sim.state.agents)
    sim.master.add_agents(4, cpus=4.0, gpus=0.0)
    sim.state.outcomes.add_rule({"command_contains": "-work", "duration": 60.0})
    database = Database(f"sqlite:///{tmp_path}/status.db")
    await database.migrate()
    await database.run(lambda c: upsert_job_types(c, [PLAIN, GPU]))
    await database.close()
    overrides = {"MESSAGE_HANDLER_MODE": "in-process", "SCALE_QUEUE_NAME": "gpu-placement-e2e"}
    try:
        async with scheduler_against(sim, tmp_path, **overrides) as (daemon, http):
            await status_when(
                http, lambda d: len(d["nodes"]) == 6 and all(n["state"]["name"] == "READY" for n in d["nodes"]), 30
            )

            def place():
                tasks = running(sim)
                plain_on_gpu = [t.id for t in tasks if t.agent_id in gpu_agents and "plain" in t.name]
                gpu_on = Counter(t.agent_id in gpu_agents for t in tasks if "gpu-work" in t.name)
                plain_on_plain = sum(1 for t in tasks if t.agent_id not in gpu_agents and "plain" in t.name)
                return len(tasks), plain_on_plain, plain_on_gpu, dict(gpu_on)

            # Phase 1: 12 plain jobs (room 16 on the plain agents) and 2 GPU jobs, in one message each.
            for message in (
                build_queue_jobs_for("plain-work", "1", count=12),
                build_queue_jobs_for("gpu-work", "1", count=2),
            ):
                await asyncio.to_thread(publish_queue_jobs, daemon.settings, message)
            await until(lambda: len(running(sim)) == 14, 30, "phase 1 never ran")
            print("\nphase 1 (12 plain + 2 GPU):", place())
            assert place()[1:] == (12, [], {True: 2})
            # Phase 2: 4 more plain jobs, one message each: exactly the room left on plain agents.
            for _ in range(4):
                await asyncio.to_thread(
                    publish_queue_jobs, daemon.settings, build_queue_jobs_for("plain-work", "1", count=1)
                )
            await until(lambda: len(running(sim)) == 18, 30, "phase 2 never ran")
            print("phase 2 (+4 plain):", place())
            assert place()[1:3] == (16, [])
            # Phase 3: plain agents full, no GPU job waits: 3 more plain jobs may use the GPU agents' cpus.
            await asyncio.to_thread(
                publish_queue_jobs, daemon.settings, build_queue_jobs_for("plain-work", "1", count=3)
            )
            await until(lambda: len(running(sim)) == 21, 30, "phase 3 never ran")
            print("phase 3 (+3 plain, plain agents full):", place())
            assert place()[1] == 16 and len(place()[2]) == 3
    finally:
        await sim.close()
