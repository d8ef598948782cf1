"""``scale-scheduler api``: the v6 API served from the database, on any host, without a scheduler.

It never migrates: until the schema is the one this version reads (the scheduler, or
``scale-scheduler db-update``, migrates it), it says so in the log and answers 503.
"""

from __future__ import annotations

import asyncio
import logging

from scheduler import __version__
from scheduler.aio import wait_event
from scheduler.api.app import create_app
from scheduler.api.database_status import DatabaseStatus
from scheduler.api.server import ConnectionLimits
from scheduler.config import Settings
from scheduler.daemon import start_api, stop_on_signals
from scheduler.store.database import Database
from scheduler.store.ingest import describe_database_error

log = logging.getLogger(__name__)

SCHEMA_POLL_S = 5.0


async def run_api_server(settings: Settings, *, stop: asyncio.Event | None = None) -> int:
    stop = stop_on_signals(stop)
    database = Database(
        settings.database_url,
        settings.database_timeout_s,
        sslmode=settings.database_sslmode,
        ca_file=settings.ca_file,
    )
    source = DatabaseStatus(database, settings.status_freshness_s)
    try:
        app = create_app(status=source, database=database, settings=settings)
        limits = ConnectionLimits.from_settings(settings)
        runner, url = await start_api(app, settings.api_host, settings.api_port, limits)
    except OSError as exc:
        log.error("Cannot listen on %s:%d: %s", settings.api_host, settings.api_port, exc.strerror or exc)
        await database.close()
        return 1
    log.info("scale-scheduler %s api serving %s from %s", __version__, url, database.display_url)
    try:
        if await wait_for_schema(database, stop):
            await source.run(stop)
        return 0
    finally:
        await runner.cleanup()
        await database.close()


async def wait_for_schema(database: Database, stop: asyncio.Event, interval_s: float = SCHEMA_POLL_S) -> bool:
    """Wait until the database's schema is the one this version reads; False if stopped first."""
    reported = None
    while not stop.is_set():
        try:
            current, head = await database.schema_revisions()
            if current == head:
                if reported is not None:
                    log.info("the database schema is at revision %s; serving the status", head)
                return True
            state = f"the database schema is at revision {current or 'none (not migrated)'}, this version reads {head}"
            hint = "; waiting for the scheduler or `scale-scheduler db-update` to migrate it (the api command never migrates)"
        except Exception as exc:
            error = "timed out" if isinstance(exc, TimeoutError) else describe_database_error(exc)
            state, hint = f"cannot read the database schema ({error})", "; retrying"
        if state != reported:
            log.warning("%s%s", state, hint)
            reported = state
        await wait_event(stop, interval_s)
    return False
