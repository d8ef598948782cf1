"""GET /v6/events/: events derived by diffing snapshots, bounded buffers, a stream cap, heartbeats."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from scheduler.api import event_stream as events
from scheduler.api.app import create_app
from scheduler.api.event_stream import EVENT_HUB, EventHub, diff, events_handler, observe, parse_head
from scheduler.daemon import start_api
from scheduler.status.snapshot import StatusSnapshot
from scheduler.status.view import NodeView, SnapshotView


class Published:
    """A status source whose snapshot the test replaces, as the engine publishes new ones."""

    freshness_s = 12.0

    def __init__(self, snapshot=None):
        self.snapshot = snapshot

    def current(self):
        return self.snapshot


def dependency(ok, msg, errors=()):
    return {"OK": ok, "detail": {"msg": msg}, "errors": list(errors), "warnings": []}


def document(nodes, state="READY", warnings=(), db_ok=True):
    return {
        "timestamp": "2026-01-01T00:00:00Z",
        "dependencies": {"database": dependency(db_ok, "Database alive and well" if db_ok else "Database is down")},
        "scheduler": {"state": {"name": state}, "warnings": [{"name": w, "title": w} for w in warnings]},
        "resources": {},
        "nodes": [
            {"id": i + 1, "hostname": host, "state": {"name": node_state}, "errors": [], "warnings": []}
            for i, (host, node_state) in enumerate(nodes.items())
        ],
    }


def executions(completed, failed_algorithm=0, job_type_id=1):
    def counts(n):
        return {"total": n, "by_job_type": [{"job_type_id": job_type_id, "count": n}] if n else []}

    return {
        "running": counts(0),
        "completed": counts(completed),
        "failed": {
            "total": failed_algorithm,
            "data": counts(0),
            "algorithm": counts(failed_algorithm),
            "system": counts(0),
        },
    }


def snapshot_of(doc, view=None):
    return StatusSnapshot(time.time(), orjson.dumps(doc), view=view)


def view_of(nodes, state="READY", warnings=(), finished=0):
    return SnapshotView(
        generated_at=time.time(),
        scheduler_state=state,
        subscribed=True,
        warnings=tuple(warnings),
        nodes=tuple(
            NodeView(host, i + 1, f"agent-{i}", node_state, False, True)
            for i, (host, node_state) in enumerate(nodes.items())
        ),
        counters={"jobs_finished": finished},
    )


def test_a_node_going_offline_and_one_leaving_are_node_events():
    before = observe(snapshot_of(document({"a": "READY", "b": "READY", "c": "READY"})))
    after = observe(snapshot_of(document({"a": "READY", "b": "OFFLINE"})))
    (name, data), *rest = diff(before, after)
    assert name == "nodes" and rest == []
    assert data["changes"] == [
        {"hostname": "b", "id": 2, "state": "OFFLINE", "previous": "READY"},
        {"hostname": "c", "id": 3, "state": None, "previous": "READY"},
    ]
    assert data["more"] == 0


def test_nothing_changed_means_no_event():
    doc = document({"a": "READY"}, warnings=("W",))
    assert diff(observe(snapshot_of(doc)), observe(snapshot_of(doc))) == []


def test_a_mass_change_is_one_bounded_event_that_counts_the_rest():
    hosts = {f"agent-{i}": "READY" for i in range(events.MAX_CHANGES + 20)}
    before = observe(snapshot_of(document(hosts)))
    after = observe(snapshot_of(document(dict.fromkeys(hosts, "SCHEDULER_STOPPED"), state="PAUSED")))
    found = dict(diff(before, after))
    assert len(found["nodes"]["changes"]) == events.MAX_CHANGES
    assert found["nodes"]["more"] == 20
    assert found["scheduler"]["state"] == "PAUSED" and found["scheduler"]["previous"] == "READY"


def test_scheduler_warnings_added_and_cleared():
    before = observe(snapshot_of(document({}, warnings=("OLD",))))
    after = observe(snapshot_of(document({}, warnings=("NEW",))))
    [(name, data)] = diff(before, after)
    assert name == "scheduler"
    assert (data["added"], data["cleared"], data["warnings"]) == (["NEW"], ["OLD"], ["NEW"])


def test_a_dependency_change_names_it_with_its_message():
    before = observe(snapshot_of(document({}, db_ok=True)))
    after = observe(snapshot_of(document({}, db_ok=False)))
    [(name, data)] = diff(before, after)
    assert name == "dependency"
    assert data == {
        "name": "database",
        "OK": False,
        "msg": "Database is down",
        "errors": [],
        "warnings": [],
        "previous_OK": True,
    }


def test_with_a_view_node_states_come_from_it_and_finished_jobs_are_batched():
    # The document's nodes say READY: with a view, the view is what counts (no document parse).
    doc = document({"a": "READY"})
    before = observe(snapshot_of(doc, view_of({"a": "READY"}, finished=10)))
    after = observe(snapshot_of(doc, view_of({"a": "DEGRADED"}, finished=17)))
    found = dict(diff(before, after))
    assert found["nodes"]["changes"] == [{"hostname": "a", "id": 1, "state": "DEGRADED", "previous": "READY"}]
    assert found["jobs"] == {"finished": 17 - 10, "by_job_type": []}


def test_without_a_view_ends_are_counted_per_job_type_from_the_nodes_executions():
    def with_ends(a_completed, a_failed, b_completed):
        doc = document({"a": "READY", "b": "READY"})
        doc["job_types"] = [{"id": 1, "name": "echo", "version": "1.0"}, {"id": 2, "name": "sort", "version": "2"}]
        doc["nodes"][0]["job_executions"] = executions(a_completed, a_failed, job_type_id=1)
        doc["nodes"][1]["job_executions"] = executions(b_completed, job_type_id=2)
        return observe(snapshot_of(doc))

    [(name, data)] = diff(with_ends(3, 1, 5), with_ends(6, 2, 5))
    assert name == "jobs"
    assert data == {"finished": 4, "by_job_type": [{"job_type_id": 1, "name": "echo 1.0", "count": 4}]}
    # Ends leaving the recent window are not ends: nothing to report.
    assert diff(with_ends(6, 2, 5), with_ends(2, 0, 5)) == []


def test_the_head_is_read_without_the_node_list():
    body = orjson.dumps(document({"a": "READY"}))
    head = parse_head(body)
    assert "nodes" not in head and head["scheduler"]["state"]["name"] == "READY"


def test_a_large_document_without_a_view_gives_no_node_events(monkeypatch):
    monkeypatch.setattr(events, "SMALL_DOCUMENT", 10)
    before = observe(snapshot_of(document({"a": "READY"})))
    after = observe(snapshot_of(document({"a": "OFFLINE"}, state="PAUSED")))
    assert before.nodes is None
    # The scheduler state is in the small head: still reported.
    assert [name for name, _ in diff(before, after)] == ["scheduler"]


def test_a_hostile_string_cannot_break_out_of_its_event():
    chunk = events.encode(1, "nodes", {"hostname": "evil\n\ndata: forged\r\n"})
    assert chunk.count(b"\n\n") == 1 and chunk.endswith(b"\n\n")
    assert b"\r" not in chunk


async def test_a_client_that_does_not_read_is_dropped_and_its_buffer_stays_bounded():
    source = Published(snapshot_of(document({"a": "READY"})))
    hub = EventHub(source, poll_s=3600)  # the test steps the hub itself
    idle = hub.open(None)
    reader = hub.open(None)
    for i in range(events.BUFFER_EVENTS + 5):
        source.snapshot = snapshot_of(document({"a": "READY" if i % 2 else "OFFLINE"}))
        assert hub.step() == 1
        while not reader.queue.empty():
            reader.queue.get_nowait()
        assert idle.queue.qsize() <= events.BUFFER_EVENTS
    assert idle.closed.is_set() and idle not in hub.streams
    assert reader in hub.streams and not reader.closed.is_set()
    assert hub.dropped == 1
    await hub.close()


@pytest.fixture
async def client_for():
    clients = []

    async def make(app):
        client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


async def read_event(resp, name, timeout=5.0):
    """The data of the next event called ``name`` on an open stream."""
    current = None
    async with asyncio.timeout(timeout):
        while True:
            line = (await resp.content.readline()).decode()
            assert line, "the stream ended"
            if line.startswith("event: "):
                current = line[len("event: ") :].strip()
            elif line.startswith("data: ") and current == name:
                return orjson.loads(line[len("data: ") :])


async def test_the_stream_shows_a_node_going_offline(client_for):
    source = Published(snapshot_of(document({"a": "READY", "b": "READY"})))
    app = create_app(status=source)
    app[EVENT_HUB].poll_s = 0.01
    client = await client_for(app)
    resp = await client.get("/v6/events/")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/event-stream"
    assert resp.headers["Cache-Control"] == "no-cache"
    assert (await resp.content.readline()).startswith(b"retry: ")
    source.snapshot = snapshot_of(document({"a": "READY", "b": "OFFLINE"}))
    data = await read_event(resp, "nodes")
    assert data["changes"] == [{"hostname": "b", "id": 2, "state": "OFFLINE", "previous": "READY"}]
    resp.close()


async def test_the_v7_path_streams_too_and_heartbeats_keep_it_open(client_for):
    source = Published(snapshot_of(document({})))
    app = web.Application()
    hub = EventHub(source, poll_s=0.01)
    app.router.add_get("/v7/events/", events_handler(hub, heartbeat_s=0.05))
    client = await client_for(app)
    resp = await client.get("/v7/events/")
    lines = []
    async with asyncio.timeout(5):
        while b": heartbeat\n" not in lines:
            lines.append(await resp.content.readline())
    resp.close()
    assert "/v7/events/" in {r.canonical for r in create_app(status=source).router.resources()}


async def test_streams_are_capped_and_the_next_one_gets_a_503(client_for, monkeypatch):
    source = Published(snapshot_of(document({})))
    app = create_app(status=source)
    app[EVENT_HUB].max_streams = 2
    client = await client_for(app)
    open_streams = [await client.get("/v6/events/") for _ in range(2)]
    assert [r.status for r in open_streams] == [200, 200]
    resp = await client.get("/v6/events/")
    assert resp.status == 503
    assert "Too many event streams" in (await resp.json())["detail"]
    assert resp.headers["Retry-After"] == "15"
    for r in open_streams:
        r.close()


async def test_shutting_down_ends_open_streams(client_for):
    source = Published(snapshot_of(document({})))
    app = create_app(status=source)
    client = await client_for(app)
    resp = await client.get("/v6/events/")
    await resp.content.readline()
    await app[EVENT_HUB].close()
    async with asyncio.timeout(5):
        rest = await resp.content.read()  # returns once the server ends the response
    assert b"event:" not in rest
    assert not app[EVENT_HUB].streams


async def test_no_events_route_without_a_status_source(client_for):
    client = await client_for(create_app())
    resp = await client.get("/v6/events/")
    assert resp.status == 404


async def test_a_stream_that_falls_behind_is_closed_on_the_wire(client_for):
    source = Published(snapshot_of(document({})))
    app = create_app(status=source)
    hub = app[EVENT_HUB]
    client = await client_for(app)
    resp = await client.get("/v6/events/")
    await resp.content.readline()
    # More events than the buffer holds, before the stream's writer can run once.
    for i in range(events.BUFFER_EVENTS + 1):
        hub.broadcast(events.encode(i, "jobs", {"finished": 1}))
    assert hub.dropped == 1 and not hub.streams
    async with asyncio.timeout(5):  # the server closed the connection: the read ends
        with pytest.raises(aiohttp.ClientPayloadError):  # cut off mid-response
            await resp.content.read()


async def test_a_client_that_hangs_up_frees_its_place_before_the_next_heartbeat(monkeypatch):
    monkeypatch.setattr(events, "CHECK_S", 0.02)
    source = Published(snapshot_of(document({})))
    app = create_app(status=source)
    hub = app[EVENT_HUB]
    # The daemon's own runner: it does not cancel a handler whose client left (the test server does).
    runner, url = await start_api(app, "127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as session:
            resp = await session.get(url + "/v6/events/")
            await resp.content.readline()
            assert len(hub.streams) == 1
            resp.close()  # heartbeats are 15 s apart: only the connection check can notice this soon
            async with asyncio.timeout(5):
                while hub.streams:
                    await asyncio.sleep(0.02)
    finally:
        await runner.cleanup()
