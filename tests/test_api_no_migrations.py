"""The ``api`` command never migrates: it waits for (and reports) an unmigrated schema."""

from __future__ import annotations

import asyncio
import logging
import re

import aiohttp
import sqlalchemy

from scheduler.apiserver import run_api_server
from scheduler.config import load_settings
from scheduler.store.database import make_engine, migrate


async def test_the_api_command_waits_for_the_schema_and_never_migrates(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="scheduler.apiserver")
    url = f"sqlite:///{tmp_path}/api.sqlite"
    settings = load_settings({}, overrides={"DATABASE_URL": url, "PORT0": "0", "SCALE_API_HOST": "127.0.0.1"})
    stop = asyncio.Event()
    task = asyncio.create_task(run_api_server(settings, stop=stop))
    try:
        async with asyncio.timeout(10):
            while not any("not migrated" in r.getMessage() for r in caplog.records):
                await asyncio.sleep(0.05)
        served = next(r.getMessage() for r in caplog.records if "api serving" in r.getMessage())
        api = re.search(r"http://[0-9.:]+", served).group()
        async with aiohttp.ClientSession() as http, http.get(f"{api}/v6/status/") as resp:
            assert resp.status == 503
        engine = make_engine(url)
        assert sqlalchemy.inspect(engine).get_table_names() == []  # nothing created, nothing migrated
        migrate(engine)  # the scheduler (or db-update) migrates
        engine.dispose()
        async with asyncio.timeout(15):
            while not any("serving the status" in r.getMessage() for r in caplog.records):
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 10) == 0
    warnings = [r.getMessage() for r in caplog.records if "not migrated" in r.getMessage()]
    assert len(warnings) == 1 and "the api command never migrates" in warnings[0]
