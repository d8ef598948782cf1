"""``scale-scheduler dev``: the simulated master and the scheduler in one process, talking over HTTP.

The simulator listens on loopback like a real master would; the scheduler reaches it through the
same driver it uses in production. Everything else is embedded: SQLite and the in-memory broker.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from scheduler import __version__
from scheduler.config import Settings
from scheduler.daemon import Daemon, run_daemon
from scheduler.redact import mask_url

log = logging.getLogger(__name__)


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
            f"  status     {api}/v6/status/",
            f"  version    {api}/v6/version/",
            f"  master     {sim_url}/master/state  (simulated, {agents} agents; control API {sim_url}/sim/state)",
            f"  database   {mask_url(daemon.settings.database_url)}",
            f"  broker     {mask_url(daemon.settings.broker_url)}",
            "Stop with Ctrl-C.",
        ]
    )


async def run_dev(settings: Settings, sim_config, *, sim_port: int = 5050, stop: asyncio.Event | None = None) -> int:
    sim = await _start_sim(sim_config, sim_port)
    try:
        settings = settings.replace(mesos_master_url=sim.url)

        def announce(daemon: Daemon) -> None:
            print(banner(daemon, sim.url, sim_config.agents), file=sys.stdout, flush=True)

        return await run_daemon(settings, stop=stop, on_started=announce)
    finally:
        await sim.close()
