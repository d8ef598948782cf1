"""Queue status in Scale's shape with pending reasons (from the snapshot view or the database), and
the load history."""

from __future__ import annotations

import asyncio
import gzip
import time

import pytest
from aiohttp.test_utils import TestClient, TestServer
from conftest import FixedStatus

from scheduler.api.app import create_app
from scheduler.api.load import LoadHistory
from scheduler.status.snapshot import StatusSnapshot
from scheduler.status.view import QueueTypeSummary, SnapshotView


def view_with(queue, running=0, at=None):
    at = at or time.time()
    return StatusSnapshot(
        at,
        b"{}",
        view=SnapshotView(
            generated_at=at, scheduler_state="READY", subscribed=True, queue=queue, running_count=running
        ),
    )


async def test_queue_status_from_the_database(api):
    resp = await api.get("/v6/queue/status/")
    assert resp.status == 200
    page = await resp.json()
    assert (page["count"], page["next"], page["previous"]) == (2, None, None)
    gpu, cpu = page["results"]  # priority 50 runs before 100
    assert gpu["job_type"] == {
        "id": gpu["job_type"]["id"],
        "name": "gpu-work",
        "version": "1.0",
        "title": "GPU work",
        "description": "",
        "is_system": False,
        "is_long_running": False,
        "is_active": True,
        "is_operational": True,
        "is_paused": False,
        "icon_code": "f0e7",
    }
    assert (gpu["count"], gpu["highest_priority"], gpu["longest_queued"]) == (3, 50, "2026-01-01T00:00:00Z")
    assert (cpu["count"], cpu["highest_priority"], cpu["longest_queued"]) == (2, 100, "2026-01-02T00:00:00Z")
    assert gpu["pending_reasons"] == {} == cpu["pending_reasons"]
    second = await (await api.get("/api/v6/queue/status/?page_size=1&page=2")).json()
    assert [r["job_type"]["name"] for r in second["results"]] == ["cpu-work"]
    assert second["previous"] == "/api/v6/queue/status/?page_size=1&page=1"


async def test_queue_status_from_the_view_names_the_reasons(database):
    gpu_id = await database.run(lambda c: c.exec_driver_sql("SELECT id FROM job_type WHERE name = 'gpu-work'").scalar())
    queue = (
        QueueTypeSummary(gpu_id, "gpu-work", "1.0", 500, 1_700_000_000.0, 10, {"NO_NODE_FITS": 500}),
        QueueTypeSummary(999, "gone", "1", 100, 1_700_000_100.5, 100, {"BEHIND_BLOCKED_PRIORITY": 100}),
    )
    status = FixedStatus(view_with(queue))
    async with TestClient(TestServer(create_app(status=status, database=database))) as client:
        page = await (await client.get("/v6/queue/status/")).json()
    gpu, other = page["results"]
    assert gpu["job_type"]["title"] == "GPU work"  # details from the job type table
    assert (gpu["count"], gpu["highest_priority"], gpu["pending_reasons"]) == (500, 10, {"NO_NODE_FITS": 500})
    assert gpu["longest_queued"] == "2023-11-14T22:13:20Z"
    assert other["job_type"]["name"] == "gone" and other["pending_reasons"] == {"BEHIND_BLOCKED_PRIORITY": 100}
    assert other["longest_queued"] == "2023-11-14T22:15:00.500000Z"


async def test_queue_status_without_view_or_database_is_empty_not_an_error():
    status = FixedStatus(StatusSnapshot(time.time(), b"{}"))  # a daemon before the view exists
    async with TestClient(TestServer(create_app(status=status))) as client:
        resp = await client.get("/v6/queue/status/")
        assert resp.status == 200
        assert await resp.json() == {"count": 0, "next": None, "previous": None, "results": []}


async def test_queue_status_etag_304_and_gzip_per_snapshot():
    many = tuple(
        QueueTypeSummary(i, f"type-{i}", "1", 5, 1_700_000_000.0 + i, 100, {"NO_NODE_FITS": 5}) for i in range(50)
    )
    status = FixedStatus(view_with(many))
    async with TestClient(TestServer(create_app(status=status)), auto_decompress=False) as client:
        resp = await client.get("/v6/queue/status/", headers={"Accept-Encoding": "gzip"})
        assert resp.headers["Content-Encoding"] == "gzip"
        assert resp.headers["Cache-Control"] == "no-cache" and resp.headers["Vary"] == "Accept-Encoding"
        assert len(gzip.decompress(await resp.read())) > 1024
        tag = resp.headers["ETag"]
        resp = await client.get("/v6/queue/status/", headers={"Accept-Encoding": "gzip", "If-None-Match": tag})
        assert resp.status == 304
        status.snapshot = view_with(many[:10], at=status.snapshot.generated_at + 1)  # the queue changed
        resp = await client.get("/v6/queue/status/", headers={"Accept-Encoding": "gzip", "If-None-Match": tag})
        assert resp.status == 200 and resp.headers["ETag"] != tag


async def test_load_history_samples_the_view_and_filters_by_time():
    status = FixedStatus(view_with((QueueTypeSummary(1, "a", "1", 7, 0.0, 1),), running=3))
    app = create_app(status=status, load_interval_s=0.05)
    async with TestClient(TestServer(app)) as client:
        for _ in range(100):
            page = await (await client.get("/v6/load/")).json()
            if page["count"] >= 2:
                break
            await asyncio.sleep(0.05)
        assert page["count"] >= 2
        point = page["results"][0]
        assert (point["pending_count"], point["queued_count"], point["running_count"]) == (0, 7, 3)
        assert point["time"].endswith("Z")
        future = await (await client.get("/v6/load/?started=2999-01-01T00:00:00Z")).json()
        assert future["count"] == 0
        past = await (await client.get("/api/v6/load/?ended=2999-01-01T00:00:00%2B00:00&page_size=1")).json()
        assert past["count"] >= 2 and len(past["results"]) == 1


@pytest.mark.parametrize(
    "query",
    ["started=yesterday", "started=2026-01-01T00:00:00", "ended=" + "9" * 50, "started=", "ended=2026-02-30T00:00:00Z"],
)
async def test_load_rejects_bad_times(query):
    async with TestClient(TestServer(create_app(status=FixedStatus(None)))) as client:
        resp = await client.get(f"/v6/load/?{query}")
        assert resp.status == 400
        assert "detail" in await resp.json()


async def test_load_history_from_the_database(database):
    history = LoadHistory(lambda: None)
    from scheduler.api.app import load_sampler

    history.sample = load_sampler(FixedStatus(None), database)
    await history.take()
    assert [(queued, running) for _t, queued, running in history.points] == [(5, 0)]
