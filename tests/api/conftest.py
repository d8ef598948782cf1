"""Shared pieces of the API tests: a migrated database with nodes, job types and queued jobs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import insert

from scheduler.api.app import create_app
from scheduler.config import load_settings
from scheduler.jobs.definitions import JobType
from scheduler.store.database import Database
from scheduler.store.job_type_rows import upsert_job_types
from scheduler.store.node_rows import NodeRow, save_nodes
from scheduler.store.tables import job_table

TOKEN = "s3cret-token-for-tests-0001"


class FixedStatus:
    def __init__(self, snapshot=None, freshness_s=12.0):
        self.snapshot, self.freshness_s = snapshot, freshness_s

    def current(self):
        return self.snapshot


def queue_jobs(connection, job_type_id: int, priorities: list[int], queued: datetime) -> None:
    connection.execute(
        insert(job_table),
        [
            {
                "job_type_id": job_type_id,
                "priority": priority,
                "status": "QUEUED",
                "queued": queued,
                "last_modified": queued,
            }
            for priority in priorities
        ],
    )


@pytest.fixture
async def database(database_url):
    database = Database(database_url, timeout_s=10)
    await database.migrate()

    def seed(connection):
        save_nodes(
            connection,
            [NodeRow("host-a", "agent-a", True), NodeRow("host-b", "agent-b", True), NodeRow("host-c", "", False)],
        )
        stored = upsert_job_types(
            connection,
            [
                JobType("gpu-work", "1.0", "run", cpus=1, mem=64, gpus=1, title="GPU work", icon_code="f0e7"),
                JobType("cpu-work", "2.0", "run", cpus=1, mem=64, title="CPU work"),
            ],
        )
        queue_jobs(connection, stored[0].id, [50] * 3, datetime(2026, 1, 1, tzinfo=UTC))
        queue_jobs(connection, stored[1].id, [100, 120], datetime(2026, 1, 2, tzinfo=UTC))

    await database.run(seed)
    yield database
    await database.close()


@pytest.fixture
def tokens_file(tmp_path):
    path = tmp_path / "tokens"
    path.write_text(f"# operators\n{TOKEN} alice\nshort bob\n")
    return path


@pytest.fixture
async def api(database, tokens_file):
    """A client of the whole API over ``database``, and the calls its on_change hook received."""
    changes = []

    async def on_change():
        changes.append(True)

    settings = load_settings({}, overrides={"API_TOKENS_FILE": str(tokens_file)})
    app = create_app(status=FixedStatus(None), database=database, settings=settings, on_change=on_change)
    client = TestClient(TestServer(app))
    await client.start_server()
    client.changes = changes
    yield client
    await client.close()
