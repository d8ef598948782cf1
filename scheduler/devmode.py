"""``scale-scheduler dev``: the simulated master and the scheduler in one process, talking over HTTP,
with demo job types and a steady demo workload so that every section of the status moves.

The simulator listens on loopback like a real master would; the scheduler reaches it through the
same driver it uses in production. Everything else is embedded: SQLite and the in-memory broker.
Jobs enter exactly as in production: queue_jobs messages on the command queue, stored by the
message handlers (here, in-process). Simulator rules make some executions fail in each category.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sys

import aiohttp

from scheduler import __version__
from scheduler.aio import wait_event
from scheduler.config import Settings
from scheduler.daemon import Daemon, listen_text, run_daemon
from scheduler.jobs.definitions import ErrorCategory, JobType
from scheduler.jobs.messages import JobRequest, build_queue_jobs
from scheduler.messaging.producer import publish_queue_jobs
from scheduler.redact import mask_url
from scheduler.store.database import Database
from scheduler.store.job_type_rows import upsert_job_types

log = logging.getLogger(__name__)

DEMO_JOB_TYPES = [
    JobType(
        "demo-echo",
        "1.0",
        'echo "demo-echo: $SCALE_INPUTS"',
        cpus=0.5,
        mem=256.0,
        title="Demo Echo",
        description="Prints its inputs; always succeeds",
        icon_code="f0a1",
        max_tries=3,
    ),
    JobType(
        "demo-crunch",
        "1.0",
        "demo-crunch --iterations 1000",
        cpus=1.0,
        mem=1024.0,
        disk=512.0,
        title="Demo Crunch",
        description="A long computation that sometimes fails (ALGORITHM)",
        icon_code="f1ec",
        max_tries=2,
    ),
    JobType(
        "demo-ingest",
        "1.0",
        "demo-ingest --source inbox",
        cpus=0.5,
        mem=512.0,
        title="Demo Ingest",
        description="Ingests a file: bad files exit 2 (DATA); its agent is sometimes lost (SYSTEM)",
        icon_code="f093",
        max_tries=3,
        error_mapping={2: ErrorCategory.DATA},
    ),
]

# First matching rule wins; a rule whose probability is not drawn lets the next one decide.
DEMO_RULES = [
    {"command_contains": "demo-echo", "duration": 2.0},
    {"command_contains": "demo-crunch", "probability": 0.15, "exit_code": 1, "duration": 4.0},
    {"command_contains": "demo-crunch", "duration": 6.0},
    {"command_contains": "demo-ingest", "probability": 0.05, "state": "TASK_LOST", "duration": 1.0},
    {"command_contains": "demo-ingest", "probability": 0.15, "exit_code": 2, "duration": 2.0},
    {"command_contains": "demo-ingest", "duration": 3.0},
    {"name_glob": "Node *", "duration": 1.0},  # cleanups and health checks are quick
]

SUBMIT_EVERY_S = 3.0
JOBS_PER_SUBMIT = 3


async def _start_sim(sim_config, port: int):
    from scheduler.sim.server import serve_sim

    try:
        return await serve_sim(sim_config, "127.0.0.1", port)
    except OSError as exc:
        if port == 0:
            raise
        log.warning("Port %d is taken (%s); the simulated master takes a free port instead", port, exc.strerror)
        return await serve_sim(sim_config, "127.0.0.1", 0)


def banner(daemon: Daemon, sim_url: str, agents: int) -> str:
    api = daemon.api_url
    return "\n".join(
        [
            f"scale-scheduler {__version__} (dev mode)",
            f"  status     {api}/v6/status/  (listening on {listen_text(daemon.settings.api_host, api)})",
            f"  version    {api}/v6/version/",
            f"  master     {sim_url}/master/state  (simulated, {agents} agents; control API {sim_url}/sim/state)",
            f"  database   {mask_url(daemon.settings.database_url)}",
            f"  broker     {mask_url(daemon.settings.broker_url)}",
            f"  workload   {JOBS_PER_SUBMIT} demo jobs every {SUBMIT_EVERY_S:g} s "
            f"({', '.join(jt.name for jt in DEMO_JOB_TYPES)})",
            "Stop with Ctrl-C.",
        ]
    )


async def register_demo_job_types(database: Database) -> None:
    await database.run(lambda connection: upsert_job_types(connection, DEMO_JOB_TYPES))


async def set_demo_rules(sim_url: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.delete(sim_url + "/sim/outcomes") as resp:
            resp.raise_for_status()
        for rule in DEMO_RULES:
            async with http.post(sim_url + "/sim/outcomes", json=rule) as resp:
                resp.raise_for_status()


async def feed_demo_jobs(settings: Settings, stop: asyncio.Event, rng: random.Random) -> None:
    """Queue a few demo jobs every few seconds, through the command queue like any producer."""
    while not await wait_event(stop, SUBMIT_EVERY_S):
        jobs = [
            JobRequest(
                job_type.name,
                job_type.version,
                priority=rng.choice((50, 100, 100)),
                inputs={"file": f"demo-{rng.randrange(10_000):04d}.dat"},
            )
            for job_type in rng.choices(DEMO_JOB_TYPES, k=JOBS_PER_SUBMIT)
        ]
        try:
            await asyncio.to_thread(publish_queue_jobs, settings, build_queue_jobs(jobs))
        except Exception as exc:  # the demo keeps going; the log says why one round was missed
            log.warning("Demo workload: could not queue jobs: %s", exc)


async def run_dev(
    settings: Settings, sim_config, *, sim_port: int = 5050, stop: asyncio.Event | None = None, workload: bool = True
) -> int:
    sim = await _start_sim(sim_config, sim_port)
    stop = stop or asyncio.Event()
    feeder: asyncio.Task | None = None
    try:
        settings = settings.replace(mesos_master_url=sim.url)
        await set_demo_rules(sim.url)

        def announce(daemon: Daemon) -> None:
            nonlocal feeder
            print(banner(daemon, sim.url, sim_config.agents), file=sys.stdout, flush=True)
            if workload:
                feeder = asyncio.create_task(feed_demo_jobs(settings, stop, random.Random(sim_config.seed)))

        return await run_daemon(settings, stop=stop, on_started=announce, prepare=register_demo_job_types)
    finally:
        if feeder is not None:
            feeder.cancel()
            await asyncio.gather(feeder, return_exceptions=True)
        await sim.close()
