"""Offer etiquette against the simulated master (which honours SUPPRESS and REVIVE as Mesos does):
50 idle agents get SUPPRESS and then make no offer, the status' per-node resources stay exact with
no offer in hand, and a job submitted then starts within 3 s, after one REVIVE.

"No offer after SUPPRESS" is read off the simulator's allocation cycles (counted by wrapping its
allocator), not off a sleep.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
from e2ekit import scheduler_against, status_when

from scheduler.jobs.definitions import JobType
from scheduler.jobs.messages import build_queue_jobs_for
from scheduler.mesos.frameworks import ghost_frameworks
from scheduler.messaging.producer import publish_queue_jobs
from scheduler.sim import SimConfig, serve_sim
from scheduler.sim.resources import Resources
from scheduler.store.database import Database
from scheduler.store.job_type_rows import upsert_job_types

AGENTS = 50
IDLE_CYCLES = 10  # allocation cycles of the simulator watched after SUPPRESS


class AllocationCycles:
    """Counts the simulator's allocation cycles; ``wait(n)`` returns after n more."""

    def __init__(self, sim) -> None:
        self.count = 0
        self._changed = asyncio.Event()
        allocate = sim.state.allocate

        def counted(t):
            fx = allocate(t)
            self.count += 1
            self._changed.set()
            return fx

        sim.state.allocate = counted

    async def wait(self, cycles: int, timeout: float = 20.0) -> None:
        target = self.count + cycles
        async with asyncio.timeout(timeout):
            while self.count < target:
                self._changed.clear()
                await self._changed.wait()


def framework(sim):
    (fw,) = sim.state.frameworks.values()
    return fw


async def until(predicate, timeout: float = 20.0, step: float = 0.05) -> float:
    """Wait for a condition that becomes true (not for one that stays false); returns when."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(step)
    return time.monotonic()


async def test_idle_agents_are_suppressed_and_a_new_job_revives_and_starts_within_3_s(tmp_path):
    config = SimConfig(agents=AGENTS, allocation_interval_s=0.2, task_duration_s=0.3)
    sim = await serve_sim(config, "127.0.0.1", 0)
    cycles = AllocationCycles(sim)
    database = Database(f"sqlite:///{tmp_path}/status.db")
    await database.migrate()
    job_type = JobType("ingest-file", "1.0", "true", cpus=0.5, mem=512.0, disk=1024.0)
    await database.run(lambda connection: upsert_job_types(connection, [job_type]))
    await database.close()
    # Another framework uses part of one agent: the status must show it as unavailable.
    busy_agent = sorted(sim.state.agents)[0]
    sim.master.set_usage(busy_agent, Resources(1.0, 1024.0, 0.0, 0.0))
    overrides = {"MESSAGE_HANDLER_MODE": "in-process", "SCALE_QUEUE_NAME": "etiquette-e2e"}
    try:
        async with scheduler_against(sim, tmp_path, **overrides) as (daemon, http):
            await status_when(
                http,
                lambda d: len(d["nodes"]) == AGENTS and all(n["state"]["name"] == "READY" for n in d["nodes"]),
                timeout=30,
            )
            fw = framework(sim)
            await until(lambda: fw.calls.get("SUPPRESS", 0) >= 1)
            assert fw.suppressed  # the master honours it
            offers_at_suppress = fw.offers_sent
            await cycles.wait(IDLE_CYCLES)
            assert fw.offers_sent - offers_at_suppress == 0
            # One REVIVE at most so far: the first work after subscribing revives, since the master may
            # keep filters of an earlier subscription.
            assert fw.calls.get("SUPPRESS") == 1 and fw.calls.get("REVIVE", 0) <= 1
            revives = fw.calls.get("REVIVE", 0)

            # Suppressed, with no offer in hand: per-node resources still come from /master/slaves.
            document = await status_when(http, lambda d: d["num_offers"] == 0 and d["nodes"][0]["resources"])
            by_host = {n["hostname"]: n["resources"] for n in document["nodes"]}
            busy_host = sim.state.agents[busy_agent].hostname
            for hostname, resources in by_host.items():
                cpus = resources["cpus"]
                assert cpus["total"] == 4.0 and cpus["offered"] == 0.0 and cpus["running"] == 0.0
                expected_free = 3.0 if hostname == busy_host else 4.0
                assert (cpus["free"], cpus["unavailable"]) == (expected_free, 4.0 - expected_free), hostname

            submitted = time.monotonic()
            await asyncio.to_thread(
                publish_queue_jobs, daemon.settings, build_queue_jobs_for("ingest-file", "1.0", count=1)
            )
            started = await until(lambda: any(task.name.startswith("ingest-file") for task in fw.tasks.values()))
            assert started - submitted < 3.0, f"the job started {started - submitted:.2f} s after its submission"
            assert fw.calls.get("REVIVE") == revives + 1
            # The master's /master/frameworks lists only us: no ghost warning. (Read as the engine
            # reads it: with another id, our own framework would be the ghost.)
            async with aiohttp.ClientSession() as client, client.get(sim.url + "/master/frameworks") as resp:
                listing = await resp.json()
            assert ghost_frameworks(listing, fw.id, "scale", None) == []
            assert ghost_frameworks(listing, "another-id", "scale", None)[0].startswith(
                f"{fw.id} (name 'scale', active"
            )
            document = await status_when(http, lambda d: True)
            assert "GHOST_FRAMEWORK" not in {w["name"] for w in document["scheduler"]["warnings"]}
    finally:
        await sim.close()
