"""``scale-scheduler api``: the v6 API served from the database, on any host, without a scheduler."""

from __future__ import annotations

import asyncio
import logging

from scheduler import __version__
from scheduler.api.app import create_app
from scheduler.api.database_status import DatabaseStatus
from scheduler.config import Settings
from scheduler.daemon import migrate_until_ready, start_api, stop_on_signals
from scheduler.store.database import Database

log = logging.getLogger(__name__)


async def run_api_server(settings: Settings, *, stop: asyncio.Event | None = None) -> int:
    stop = stop_on_signals(stop)
    database = Database(
        settings.database_url, settings.database_timeout_s, sslmode=settings.database_sslmode, ca_file=settings.ca_file
    )
    source = DatabaseStatus(database, settings.status_freshness_s)
    try:
        runner, url = await start_api(create_app(status=source), settings.api_host, settings.api_port)
    except OSError as exc:
        log.error("Cannot listen on %s:%d: %s", settings.api_host, settings.api_port, exc.strerror or exc)
        await database.close()
        return 1
    log.info("scale-scheduler %s api serving %s from %s", __version__, url, database.display_url)
    try:
        if await migrate_until_ready(database, stop):
            await source.run(stop)
        return 0
    finally:
        await runner.cleanup()
        await database.close()
