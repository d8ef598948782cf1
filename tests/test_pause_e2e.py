"""Pause and resume against the simulated master: PAUSED within seconds, nothing launched and offers
suppressed while paused, running work left alone; READY and launching again after resume.

Absence (nothing launched while paused) is shown by events, not by waiting: the scheduler read the
queued jobs, kept the master's offers suppressed through cycles that saw them, and made no LAUNCH."""

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
from scheduler.store.database import Database
from scheduler.store.job_type_rows import upsert_job_types


class Observed:
    """What the running scheduler did, seen from outside: the calls it made to the master (with the
    agents of the offers it declined) and the jobs it read from the database. Production code runs
    unchanged; only the calls through the driver and the database handle are counted on the way."""

    def __init__(self, daemon, sim) -> None:
        self.launches: list[list[str]] = []
        self.declined_agents: list[str] = []
        self.job_ids_read: set[int] = set()
        self.offer_calls: list[str] = []  # SUPPRESS and REVIVE, in order
        self.cycles = 0  # scheduling cycles the engine applied
        self.changed = asyncio.Event()
        driver, database, engine = daemon.driver, daemon.database, daemon.engine
        decline, launch, run = driver.decline, driver.launch, database.run
        suppress, revive, mind_offers = driver.suppress, driver.revive, engine._mind_offers

        async def observed_suppress(roles=()):
            await suppress(roles)
            self.offer_calls.append("SUPPRESS")
            self.changed.set()

        async def observed_revive(roles=()):
            await revive(roles)
            self.offer_calls.append("REVIVE")
            self.changed.set()

        def observed_cycle():  # the engine minds its offers after each cycle it applies
            mind_offers()
            self.cycles += 1
            self.changed.set()

        async def observed_decline(offer_ids, refuse_seconds):
            agents = [sim.state.offers[o].agent_id for o in offer_ids if o in sim.state.offers]
            result = await decline(offer_ids, refuse_seconds)
            self.declined_agents += agents
            self.changed.set()
            return result

        async def observed_launch(offer_ids, task_infos, refuse_seconds):
            self.launches.append(list(offer_ids))
            self.changed.set()
            return await launch(offer_ids, task_infos, refuse_seconds)

        async def observed_run(work, **options):
            result = await run(work, **options)
            if isinstance(result, list):
                self.job_ids_read.update(getattr(row, "job_id", None) for row in result)
                self.changed.set()
            return result

        driver.decline, driver.launch, database.run = observed_decline, observed_launch, observed_run
        driver.suppress, driver.revive, engine._mind_offers = observed_suppress, observed_revive, observed_cycle

    async def until(self, predicate, timeout: float = 15.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()


async def seed_job_type(tmp_path, job_type) -> None:
    """The job type is in the database before the scheduler starts, so it is known from the first load."""
    database = Database(f"sqlite:///{tmp_path}/status.db")
    try:
        await database.migrate()
        await database.run(lambda connection: upsert_job_types(connection, [job_type]))
    finally:
        await database.close()


async def test_pause_and_resume(tmp_path):
    sim = await serve_sim(SimConfig(agents=2, allocation_interval_s=0.2, task_duration_s=0.5), "127.0.0.1", 0)
    overrides = {"MESSAGE_HANDLER_MODE": "in-process", "SCALE_QUEUE_NAME": "pause-test"}
    await seed_job_type(tmp_path, JobType("sleepy", "1", "sleep 1", cpus=0.5, mem=64.0))
    try:
        async with scheduler_against(sim, tmp_path, **overrides) as (daemon, http):
            settings = daemon.settings
            observed = Observed(daemon, sim)
            await status_when(http, lambda d: all(n["state"]["name"] == "READY" for n in d["nodes"]) and d["nodes"])

            assert await asyncio.to_thread(pause_scheduler, settings, True) == 0
            paused = await status_when(http, lambda d: d["scheduler"]["state"]["name"] == "PAUSED", timeout=10)
            assert {n["state"]["name"] for n in paused["nodes"]} == {"SCHEDULER_STOPPED"}
            await asyncio.to_thread(publish_queue_jobs, settings, build_queue_jobs_for("sleepy", "1", count=5))

            def queued_ids(connection):
                return {row[0] for row in connection.execute(text("SELECT id FROM job WHERE status = 'QUEUED'"))}

            await observed.until(lambda: len(observed.job_ids_read) > 0)  # reads go through the observed handle
            async with asyncio.timeout(15):
                while len(job_ids := await daemon.database.run(queued_ids)) < 5:
                    await observed.changed.wait()
                    observed.changed.clear()
            # A paused scheduler has no use for offers: the master is told to stop (SUPPRESS), and
            # cycles that see the five jobs in the core keep it so. An unpaused one would REVIVE and
            # launch on the first offer (each agent fits all five jobs).
            await observed.until(lambda: job_ids <= observed.job_ids_read)
            core = daemon.engine.state
            await observed.until(lambda: {job.job_id for job in core.queue} == job_ids)
            (fw,) = sim.state.frameworks.values()
            await observed.until(lambda: daemon.engine.etiquette.suppressed and bool(fw.suppressed))
            launched_before, calls_before, cycles_before = (
                len(observed.launches),
                len(observed.offer_calls),
                observed.cycles,
            )
            await observed.until(lambda: observed.launches[launched_before:] or observed.cycles >= cycles_before + 3)
            assert observed.launches[launched_before:] == []
            assert "REVIVE" not in observed.offer_calls[calls_before:] and fw.suppressed
            launched = await daemon.database.run(lambda c: c.execute(text("SELECT count(*) FROM job_exe")).scalar())
            assert (launched, len(await daemon.database.run(queued_ids))) == (0, 5)
            async with aiohttp.ClientSession() as control, control.get(sim.url + "/master/state") as resp:
                framework = (await resp.json())["frameworks"][0]
            assert framework["offers"] == []  # declined at once, never held
            document = await status_when(http, lambda d: True)
            assert document["num_offers"] == 0

            assert await asyncio.to_thread(pause_scheduler, settings, False) == 0
            await status_when(http, lambda d: d["scheduler"]["state"]["name"] == "READY", timeout=10)
            await observed.until(lambda: "REVIVE" in observed.offer_calls[calls_before:])  # resumed: offers again
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
