"""Queue status in Scale's shape with pending reasons (from the snapshot view or the database), and
the load history."""

from __future__ import annotations

import asyncio
import gzip
import time

import pytest
from aiohttp.test_utils import TestClient, TestServer
from conftest import FixedStatus

from scheduler.api import load
from scheduler.api.app import create_app, load_sampler
from scheduler.api.load import LoadHistory, LoadSample
from scheduler.status.snapshot import StatusSnapshot
from scheduler.status.view import QueueTypeSummary, SnapshotView


def view_with(queue, running=0, at=None, running_by_type=()):
    at = at or time.time()
    return StatusSnapshot(
        at,
        b"{}",
        view=SnapshotView(
            generated_at=at,
            scheduler_state="READY",
            subscribed=True,
            queue=queue,
            running_count=running,
            running_by_type=running_by_type,
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


def load_app(history: LoadHistory):
    from aiohttp import web

    from scheduler.api.errors import json_errors
    from scheduler.api.load import load_handler

    app = web.Application(middlewares=[json_errors])
    app.router.add_get("/v6/load/", load_handler(history))
    return app


async def test_load_history_from_the_database(database):
    history = LoadHistory(lambda: None)

    history.sample = load_sampler(FixedStatus(None), database)
    await history.take()
    [point] = history.points
    assert (point.queued, point.running) == (5, 0)
    by_type = {point.detail[i]: (point.detail[i + 1], point.detail[i + 2]) for i in range(0, len(point.detail), 3)}
    assert sorted(by_type.values()) == [(2, 0), (3, 0)]  # cpu-work's two, gpu-work's three


async def test_the_load_of_some_job_types_as_the_dashboards_favorites_ask_for_it():
    """Scale's dashboard sends the favorites' ids as repeated job_type_id values: their counts only."""
    queue = (QueueTypeSummary(1, "a", "1", 7, 0.0, 1), QueueTypeSummary(2, "b", "1", 4, 0.0, 1))
    status = FixedStatus(view_with(queue, running=9, running_by_type=((2, 5), (3, 4))))
    history = LoadHistory(load_sampler(status, None))
    await history.take()
    async with TestClient(TestServer(load_app(history))) as client:
        every = (await (await client.get("/v6/load/")).json())["results"][0]
        assert (every["queued_count"], every["running_count"]) == (11, 9)
        for query, expected in [
            ("job_type_id=1", (7, 0)),
            ("job_type_id=2", (4, 5)),
            ("job_type_id=1&job_type_id=3", (7, 4)),
            ("job_type_id=99", (0, 0)),  # known to have had nothing queued or running
        ]:
            [point] = (await (await client.get(f"/v6/load/?{query}")).json())["results"]
            assert (point["queued_count"], point["running_count"]) == expected, query


@pytest.mark.parametrize(
    "query, detail",
    [
        ("job_type_id=x", "job_type_id must be a job type's id, a whole number"),
        ("job_type_id=-1", "job_type_id must be a job type's id, a whole number"),
        ("job_type_id=" + "9" * 19, "job_type_id must be a job type's id, a whole number"),
        ("&".join(["job_type_id=1"] * 51), "at most 50 job_type_id values"),
        ("job_type_id=2147483648", "job_type_id must be a job type's id, a whole number"),
        ("job_type_name=a", "job_type_name is not supported here: filter by job_type_id"),
    ],
)
async def test_load_refuses_job_type_filters_it_cannot_read(query, detail):
    async with TestClient(TestServer(load_app(LoadHistory(lambda: None)))) as client:
        resp = await client.get(f"/v6/load/?{query}")
        assert resp.status == 400 and (await resp.json())["detail"] == detail


async def test_a_filtered_answer_leaves_out_the_points_without_their_detail():
    history = LoadHistory(lambda: None)
    history.add(60.0, LoadSample(5, 1, None))  # totals only (the detail was dropped, or never known)
    history.add(120.0, LoadSample(5, 1, {4: (5, 1)}))
    async with TestClient(TestServer(load_app(history))) as client:
        assert (await (await client.get("/v6/load/")).json())["count"] == 2
        page = await (await client.get("/v6/load/?job_type_id=4")).json()
        assert page["count"] == 1 and page["results"][0]["time"].startswith("1970-01-01T00:02:00")
        assert (page["results"][0]["queued_count"], page["results"][0]["running_count"]) == (5, 1)


def test_past_the_budget_the_oldest_points_keep_their_totals_only(monkeypatch):
    monkeypatch.setattr(load, "MAX_TYPE_ENTRIES", 5)
    history = LoadHistory(lambda: None)
    for minute in range(4):
        history.add(60.0 * minute, LoadSample(3, 0, {1: (1, 0), 2: (2, 0), 3: (0, 0)}))  # two types a point
    assert [point.detail is not None for point in history.points] == [False, False, True, True]
    assert [point.queued for point in history.points] == [3, 3, 3, 3]
    history.add(240.0, LoadSample(1, 0, None))  # from a sampler without the detail
    assert [point.detail is not None for point in history.points] == [False, False, True, True, False]


def test_a_week_of_points_is_kept_and_the_detail_of_those_dropped_is_forgotten(monkeypatch):
    monkeypatch.setattr(load, "KEEP_SAMPLES", 3)
    history = LoadHistory(lambda: None)
    for minute in range(5):
        history.add(60.0 * minute, LoadSample(1, 0, {minute: (1, 0)}))
    assert [point.time for point in history.points] == [120.0, 180.0, 240.0]
    assert history._entries == 3 and list(history._detailed) == list(history.points)
