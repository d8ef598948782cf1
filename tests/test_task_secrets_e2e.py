"""No password of the scheduler's own settings reaches a TaskInfo: a whole scheduler in tasks mode
against the simulator, with every call it makes recorded, and the master's state read."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import pytest
import sqlalchemy

from scheduler.config import load_settings
from scheduler.daemon import run_daemon
from scheduler.sim import SimConfig, SimMaster, serve_sim
from scheduler.store.database import normalize_url

pytestmark = pytest.mark.integration

PASSWORD = "Tr0ub4dor-S3c@ret"  # neither form may appear: as written and percent-encoded
ENCODED = "Tr0ub4dor-S3c%40ret"
BROKER_URL = f"amqp://scale:{ENCODED}@rabbit.invalid:5672//"


def with_password(url: str) -> str:
    """The URL with a password (PostgreSQL here trusts local clients, so any password logs in)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.username or 'postgres'}:{ENCODED}@{parts.hostname}:{parts.port}"))


def clean(url: str) -> None:
    engine = sqlalchemy.create_engine(normalize_url(url), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    engine.dispose()


def recording(monkeypatch) -> list[bytes]:
    """Every body POSTed to the simulated master's /api/v1/scheduler, in order."""
    bodies: list[bytes] = []
    original = SimMaster.handle_scheduler

    async def handle(self, request):
        bodies.append(await request.read())  # aiohttp keeps the body: the handler reads it again
        return await original(self, request)

    monkeypatch.setattr(SimMaster, "handle_scheduler", handle)
    return bodies


def launched(bodies: list[bytes]) -> list[dict[str, dict]]:
    """The environment variables (by name) of every system task launched (message handler, db-update)."""
    found = []
    for body in bodies:
        call = json.loads(body)
        for operation in call.get("accept", {}).get("operations", []):
            for task in operation.get("launch", {}).get("task_infos", []):
                if task["name"] not in ("Message Handler", "Database Update"):
                    continue
                variables = task["command"].get("environment", {}).get("variables", [])
                found.append({v["name"]: v for v in variables})
    return found


async def run_until_launched(environ: dict[str, str], bodies: list[bytes], tasks: int = 2) -> str:
    """Run a scheduler until it launched ``tasks`` system tasks; the master's /master/state then."""
    sim = await serve_sim(SimConfig(agents=2, allocation_interval_s=0.1), "127.0.0.1", 0)
    try:
        environ = {
            "MESOS_MASTER_URL": sim.url,
            "PORT0": "0",
            "SCALE_API_HOST": "127.0.0.1",
            "MESSAGE_HANDLER_MODE": "tasks",
            "STATUS_PERSIST_INTERVAL": "0.5",
            **environ,
        }
        stop = asyncio.Event()
        started = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(run_daemon(load_settings(environ), stop=stop, on_started=started.set_result))
        try:
            await asyncio.wait_for(started, 15)
            for _ in range(150):
                if len(launched(bodies)) >= tasks:
                    break
                await asyncio.sleep(0.1)
            async with aiohttp.ClientSession() as http, http.get(f"{sim.url}/master/state") as resp:
                return await resp.text()
        finally:
            stop.set()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(task, 15)
    finally:
        await sim.close()


def assert_no_password(bodies: list[bytes], state: str) -> None:
    everything = b"\n".join(bodies).decode() + state
    assert PASSWORD not in everything and ENCODED not in everything
    assert "Tr0ub4dor" not in everything


async def test_tasks_get_the_urls_without_their_passwords(postgres_url, monkeypatch, caplog):
    clean(postgres_url)
    bodies = recording(monkeypatch)
    caplog.set_level(logging.WARNING, logger="scheduler.task_environment")
    database_url = with_password(postgres_url)
    state = await run_until_launched({"DATABASE_URL": database_url, "SCALE_BROKER_URL": BROKER_URL}, bodies)
    environments = launched(bodies)
    assert len(environments) >= 2, "the db-update and a message handler were not launched"
    assert_no_password(bodies, state)
    parts = urlsplit(postgres_url)
    for variables in environments:
        assert variables["DATABASE_URL"]["value"] == urlunsplit(
            parts._replace(netloc=f"{parts.username or 'postgres'}@{parts.hostname}:{parts.port}")
        )
        assert variables["SCALE_BROKER_URL"]["value"] == "amqp://scale@rabbit.invalid:5672//"
        assert variables["SCALE_QUEUE_NAME"]["value"] == "scale-command-messages"
    warnings = [r.getMessage() for r in caplog.records if "without the password" in r.getMessage()]
    assert len(warnings) == 1
    assert "DATABASE_URL and SCALE_BROKER_URL" in warnings[0]


async def test_tasks_get_secret_references_and_file_paths(postgres_url, monkeypatch, caplog, tmp_path):
    clean(postgres_url)
    bodies = recording(monkeypatch)
    caplog.set_level(logging.WARNING, logger="scheduler.task_environment")
    broker_file = tmp_path / "broker-url"
    broker_file.write_text(BROKER_URL + "\n")
    environ = {
        "DATABASE_URL": with_password(postgres_url),
        "DATABASE_URL_SECRET_REF": "/scale/database-url",
        "SCALE_BROKER_URL_FILE": str(broker_file),
    }
    state = await run_until_launched(environ, bodies)
    environments = launched(bodies)
    assert len(environments) >= 2
    assert_no_password(bodies, state)
    for variables in environments:
        assert variables["DATABASE_URL"] == {
            "name": "DATABASE_URL",
            "type": "SECRET",
            "secret": {"type": "REFERENCE", "reference": {"name": "/scale/database-url"}},
        }
        assert variables["SCALE_BROKER_URL_FILE"] == {"name": "SCALE_BROKER_URL_FILE", "value": str(broker_file)}
        assert "SCALE_BROKER_URL" not in variables
    assert not [r for r in caplog.records if "without the password" in r.getMessage()]
