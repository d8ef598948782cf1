"""The database probe: a real SELECT 1 on SQLite and on the real PostgreSQL, which goes away and comes back."""

from __future__ import annotations

import asyncio
import threading
import time
from urllib.parse import urlsplit, urlunsplit

import pytest
from depkit import DB_PASSWORD, Forwarder

from scheduler.dependencies import database_probe
from scheduler.dependencies.common import ThreadSlot
from scheduler.dependencies.monitor import DependencyMonitor
from scheduler.store.database import Database


@pytest.fixture
async def databases():
    made = []

    def make(url, **kwargs):
        db = Database(url, **kwargs)
        made.append(db)
        return db

    yield make
    for db in made:
        await db.close()


def through(forwarder: Forwarder, url: str, password: str | None = None) -> str:
    parts = urlsplit(url)
    user = parts.username or "postgres"
    userinfo = f"{user}:{password}" if password else user
    return urlunsplit(parts._replace(netloc=f"{userinfo}@127.0.0.1:{forwarder.port}"))


async def test_healthy_on_sqlite_and_postgresql(database_url, databases):
    db = databases(database_url)
    section = await database_probe.probe_database(db.engine, ThreadSlot("db"), 2.0)
    assert section == {"OK": True, "detail": {"msg": "Database alive and well"}, "errors": [], "warnings": []}


@pytest.mark.integration
async def test_postgresql_goes_away_and_comes_back(postgres_url, databases, started, all_logs):
    parts = urlsplit(postgres_url)
    forwarder = await started(Forwarder(parts.hostname, parts.port))
    # A password the local server does not ask for (trust), so it only has to stay hidden.
    db = databases(through(forwarder, postgres_url, DB_PASSWORD), timeout_s=2)
    slot = ThreadSlot("db")
    secrets = [DB_PASSWORD]
    assert (await database_probe.probe_database(db.engine, slot, 2.0, secrets=secrets))["OK"] is True

    await forwarder.cut()
    down = await database_probe.probe_database(db.engine, slot, 2.0, secrets=secrets)
    assert down == {
        "OK": False,
        "detail": {"msg": "Unable to connect to database"},
        "errors": [{"OPERATIONAL_ERROR": "Database unavailable: connection refused."}],
        "warnings": [],
    }

    await forwarder.restore()
    assert (await database_probe.probe_database(db.engine, slot, 2.0, secrets=secrets))["OK"] is True
    assert DB_PASSWORD not in all_logs.text


def probe_threads(name: str) -> int:
    return sum(1 for t in threading.enumerate() if t.name == f"probe-{name}")


@pytest.mark.integration
async def test_a_hung_database_times_out_and_its_next_run_is_skipped_not_piled_up(
    postgres_url, base_settings, databases, started, all_logs
):
    parts = urlsplit(postgres_url)
    forwarder = await started(Forwarder(parts.hostname, parts.port))
    url = through(forwarder, postgres_url, DB_PASSWORD)
    # libpq's connect_timeout (2 s at least) outlives the probe timeout: the thread stays hung a while.
    db = databases(url, timeout_s=2)
    settings = base_settings.replace(database_url=url, probe_timeout_s=0.4)
    monitor = DependencyMonitor(
        settings, db, num_message_handlers=lambda: 1, node_states=lambda: [], timeout_grace_s=0.2
    )
    assert (await monitor.run_once("database")).section["OK"] is True

    await forwarder.blackhole()
    begun = time.monotonic()
    first = await monitor.run_once("database")
    assert time.monotonic() - begun < 0.4 + 0.2 + 0.3
    assert first.section["errors"] == [{"OPERATIONAL_ERROR": "Database unavailable: timed out after 0.4 s."}]
    assert probe_threads("database") == 1

    for _ in range(3):  # every run while the call is hung: skipped at once, still one thread
        begun = time.monotonic()
        again = await monitor.run_once("database")
        assert time.monotonic() - begun < 0.1
        (message,) = again.section["errors"][0].values()
        assert message.startswith("Database unavailable: timed out, the previous check is still hung after")
        assert probe_threads("database") <= 1

    await forwarder.restore()  # drops the held connection: the hung call fails and frees its thread
    deadline = time.monotonic() + 10
    while not (await monitor.run_once("database")).section["OK"]:
        assert time.monotonic() < deadline, "the database probe did not recover"
        await asyncio.sleep(0.1)
    assert DB_PASSWORD not in all_logs.text + repr(monitor.sections())
