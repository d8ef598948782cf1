"""GET /v6/events/: server-sent events derived by diffing successive status snapshots.

One watcher compares each newly published snapshot with the one before (node states, scheduler
state and warnings, finished jobs, dependencies) and hands the same encoded bytes to every open
stream. It runs only while a stream is open. Each stream has a bounded buffer: a client that
stops reading is dropped, so a slow reader never grows the daemon's memory. A client that
reconnects refetches ``/v6/status/``; events are not replayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from scheduler.api.errors import json_error
from scheduler.api.status import StatusSource
from scheduler.status.snapshot import StatusSnapshot
from scheduler.status.view import SnapshotView

log = logging.getLogger(__name__)

MAX_STREAMS = 32  # concurrent event streams; one more is answered 503
BUFFER_EVENTS = 64  # encoded events waiting per stream before the stream is dropped
HEARTBEAT_S = 15.0
CHECK_S = 1.0  # how often an idle stream checks that its client is still connected
POLL_S = 0.25  # how often the watcher looks for a new snapshot (an identity check)
MAX_CHANGES = 500  # node changes listed per event; the rest are counted in "more"
# Without a view, the whole document is parsed for node states only when it is this small.
SMALL_DOCUMENT = 2_000_000
NODES_SPLICE = b',"nodes":['  # the builder writes "nodes" last: the head before it is small


@dataclass(frozen=True, slots=True)
class Observed:
    """What one snapshot shows, in the shape the diff compares."""

    nodes: Mapping[str, tuple[str, int | None]] | None  # hostname -> (state, node id); None: unknown
    scheduler_state: str | None
    warnings: tuple[str, ...] | None
    jobs_finished: float | None  # monotonic total, when the view counts it
    dependencies: Mapping[str, dict[str, Any]] | None
    ended_by_job_type: Mapping[int, int] | None = None  # executions ended per job type (small documents)
    job_type_names: Mapping[int, str] | None = None


def parse_head(body: bytes) -> dict[str, Any] | None:
    """Every top-level section but ``nodes``, without parsing the (large) node list."""
    cut = body.find(NODES_SPLICE)
    if cut > 0:
        with contextlib.suppress(orjson.JSONDecodeError):
            head = orjson.loads(body[:cut] + b"}")
            if isinstance(head, dict):
                return head
    return None


def parse_document(body: bytes) -> tuple[dict[str, Any], list | None]:
    """(every section but the nodes, the node list); the node list only when the document is small."""
    if len(body) <= SMALL_DOCUMENT:
        with contextlib.suppress(orjson.JSONDecodeError):
            document = orjson.loads(body)
            if isinstance(document, dict):
                nodes = document.pop("nodes", None)
                return document, nodes if isinstance(nodes, list) else None
    return parse_head(body) or {}, None


def _name(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("name")
    return value if isinstance(value, str) else None


def _dependency_summary(section: Any) -> dict[str, Any]:
    if not isinstance(section, dict):
        return {"OK": None, "msg": None, "errors": [], "warnings": []}
    detail = section.get("detail")
    return {
        "OK": section.get("OK") if isinstance(section.get("OK"), bool) else None,
        "msg": detail.get("msg") if isinstance(detail, dict) else None,
        "errors": section.get("errors") if isinstance(section.get("errors"), list) else [],
        "warnings": section.get("warnings") if isinstance(section.get("warnings"), list) else [],
    }


def _node_states(nodes: list) -> dict[str, tuple[str, int | None]]:
    found = {}
    for node in nodes:
        if isinstance(node, dict) and isinstance(node.get("hostname"), str):
            node_id = node.get("id") if isinstance(node.get("id"), int) else None
            found[node["hostname"]] = (_name(node.get("state")) or "UNKNOWN", node_id)
    return found


def _ended_by_job_type(nodes: list) -> dict[int, int]:
    """Executions ended (completed or failed) per job type id, over every node's recent-window counts."""
    ended: dict[int, int] = {}

    def add(section: Any) -> None:
        for entry in section.get("by_job_type", []) if isinstance(section, dict) else []:
            if isinstance(entry, dict) and isinstance(entry.get("job_type_id"), int):
                count = entry.get("count")
                if isinstance(count, int):
                    ended[entry["job_type_id"]] = ended.get(entry["job_type_id"], 0) + count

    for node in nodes:
        executions = node.get("job_executions") if isinstance(node, dict) else None
        if isinstance(executions, dict):
            add(executions.get("completed"))
            failed = executions.get("failed")
            for category in ("data", "algorithm", "system"):
                add(failed.get(category) if isinstance(failed, dict) else None)
    return ended


def _job_type_names(head: dict[str, Any]) -> dict[int, str]:
    names = {}
    for job_type in head.get("job_types") or []:
        if isinstance(job_type, dict) and isinstance(job_type.get("id"), int):
            names[job_type["id"]] = f"{job_type.get('name')} {job_type.get('version')}"
    return names


def observe(snapshot: StatusSnapshot) -> Observed:
    head, nodes = parse_document(snapshot.body)
    dependencies = head.get("dependencies")
    deps = {k: _dependency_summary(v) for k, v in dependencies.items()} if isinstance(dependencies, dict) else None
    ended = _ended_by_job_type(nodes) if nodes is not None else None
    names = _job_type_names(head)
    view: SnapshotView | None = snapshot.view
    if view is not None:
        return Observed(
            nodes={node.hostname: (node.state, node.node_id) for node in view.nodes},
            scheduler_state=view.scheduler_state,
            warnings=tuple(view.warnings),
            jobs_finished=view.counters.get("jobs_finished"),
            dependencies=deps,
            ended_by_job_type=ended,
            job_type_names=names,
        )
    scheduler = head.get("scheduler") if isinstance(head.get("scheduler"), dict) else {}
    warnings = scheduler.get("warnings")
    return Observed(
        nodes=_node_states(nodes) if nodes is not None else None,
        scheduler_state=_name(scheduler.get("state")),
        warnings=tuple(n for n in map(_name, warnings) if n) if isinstance(warnings, list) else None,
        jobs_finished=None,
        dependencies=deps,
        ended_by_job_type=ended,
        job_type_names=names,
    )


def _jobs_event(before: Observed, after: Observed) -> dict[str, Any] | None:
    """Executions that ended between two snapshots, with the job types when the document shows them.

    The per-type counts come from the nodes' recent-window totals: an execution leaving the window
    as another ends can hide one end, so ``finished`` prefers the view's monotonic counter.
    """
    by_type = []
    if before.ended_by_job_type is not None and after.ended_by_job_type is not None:
        for type_id, count in sorted(after.ended_by_job_type.items()):
            delta = count - before.ended_by_job_type.get(type_id, 0)
            if delta > 0:
                name = after.job_type_names.get(type_id) if after.job_type_names else None
                by_type.append({"job_type_id": type_id, "name": name, "count": delta})
    finished = None
    if before.jobs_finished is not None and after.jobs_finished is not None:
        finished = after.jobs_finished - before.jobs_finished
    elif by_type:
        finished = sum(entry["count"] for entry in by_type)
    if not finished or finished <= 0:
        return None
    return {"finished": finished, "by_job_type": by_type}


def diff(before: Observed, after: Observed) -> list[tuple[str, dict[str, Any]]]:
    """The events between two observations, as (event name, data); an unknown side says nothing."""
    events: list[tuple[str, dict[str, Any]]] = []
    if before.nodes is not None and after.nodes is not None and before.nodes != after.nodes:
        changes = []
        for hostname, (state, node_id) in after.nodes.items():
            old = before.nodes.get(hostname)
            if old is None or old[0] != state:
                changes.append({"hostname": hostname, "id": node_id, "state": state, "previous": old and old[0]})
        for hostname, (state, node_id) in before.nodes.items():
            if hostname not in after.nodes:
                changes.append({"hostname": hostname, "id": node_id, "state": None, "previous": state})
        if changes:
            events.append(("nodes", {"changes": changes[:MAX_CHANGES], "more": max(0, len(changes) - MAX_CHANGES)}))
    if (before.scheduler_state, before.warnings) != (after.scheduler_state, after.warnings) and (
        after.scheduler_state is not None
    ):
        old_warnings = set(before.warnings or ())
        new_warnings = set(after.warnings or ())
        events.append(
            (
                "scheduler",
                {
                    "state": after.scheduler_state,
                    "previous": before.scheduler_state,
                    "warnings": list(after.warnings or ()),
                    "added": sorted(new_warnings - old_warnings),
                    "cleared": sorted(old_warnings - new_warnings),
                },
            )
        )
    jobs = _jobs_event(before, after)
    if jobs is not None:
        events.append(("jobs", jobs))
    if before.dependencies is not None and after.dependencies is not None:
        for name, summary in after.dependencies.items():
            old = before.dependencies.get(name)
            if old != summary:
                events.append(("dependency", {"name": name, **summary, "previous_OK": old and old["OK"]}))
    return events


def encode(event_id: int, name: str, data: dict[str, Any]) -> bytes:
    # orjson escapes every control character, so a value cannot end the event early.
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (event_id, name.encode(), orjson.dumps(data))


class Stream:
    """One open client: a bounded queue of encoded events, and whether it was dropped."""

    def __init__(self, transport: asyncio.BaseTransport | None) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(BUFFER_EVENTS)
        self.transport = transport
        self.closed = asyncio.Event()

    def offer(self, chunk: bytes) -> bool:
        try:
            self.queue.put_nowait(chunk)
            return True
        except asyncio.QueueFull:
            self.close()
            return False

    def close(self) -> None:
        self.closed.set()
        if self.transport is not None:  # a writer blocked on a full socket gets an error at once
            self.transport.close()


class EventHub:
    """Watches the published snapshots while a stream is open and fans events out to the streams."""

    def __init__(self, status: StatusSource, *, poll_s: float = POLL_S, max_streams: int = MAX_STREAMS) -> None:
        self.status = status
        self.poll_s = poll_s
        self.max_streams = max_streams
        self.streams: set[Stream] = set()
        self.dropped = 0  # streams closed because they did not keep up
        self.last_id = 0
        self._seen: StatusSnapshot | None = None
        self._observed: Observed | None = None
        self._watcher: asyncio.Task | None = None

    def step(self) -> int:
        """Compare the newest snapshot with the last one seen; returns how many events went out."""
        snapshot = self.status.current()
        if snapshot is None or snapshot is self._seen:
            return 0
        self._seen = snapshot
        observed = observe(snapshot)
        before, self._observed = self._observed, observed
        if before is None:
            return 0
        events = diff(before, observed)
        for name, data in events:
            self.last_id += 1
            self.broadcast(encode(self.last_id, name, data))
        return len(events)

    def broadcast(self, chunk: bytes) -> None:
        for stream in list(self.streams):
            if not stream.offer(chunk):
                self.streams.discard(stream)
                self.dropped += 1
                log.info("Dropped an event stream that did not keep up (%d events waiting)", BUFFER_EVENTS)

    async def _watch(self) -> None:
        while self.streams:
            try:
                self.step()
            except Exception:  # a malformed snapshot must not end the streams
                log.exception("Cannot derive events from the status snapshot")
            await asyncio.sleep(self.poll_s)
        self._seen = self._observed = None

    def open(self, transport: asyncio.BaseTransport | None) -> Stream | None:
        if len(self.streams) >= self.max_streams:
            return None
        stream = Stream(transport)
        self.streams.add(stream)
        if self._watcher is None or self._watcher.done():
            self._seen = self._observed = None
            self.step()  # the baseline: events start from what this stream's page loads next
            self._watcher = asyncio.get_running_loop().create_task(self._watch(), name="status-events")
        return stream

    def leave(self, stream: Stream) -> None:
        self.streams.discard(stream)

    async def close(self, _app: web.Application | None = None) -> None:
        for stream in list(self.streams):
            stream.closed.set()
        self.streams.clear()
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher


def events_handler(hub: EventHub, heartbeat_s: float = HEARTBEAT_S):
    async def get_events(request: web.Request) -> web.StreamResponse:
        stream = hub.open(request.transport)
        if stream is None:
            return json_error(
                503, f"Too many event streams are open ({hub.max_streams}); try again later.", {"Retry-After": "15"}
            )
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",  # proxies pass each event on at once
            }
        )
        closed = asyncio.ensure_future(stream.closed.wait())
        loop = asyncio.get_running_loop()
        try:
            await response.prepare(request)
            await response.write(b"retry: 3000\n: connected\n\n")
            last_write = loop.time()
            while not stream.closed.is_set():
                getter = asyncio.ensure_future(stream.queue.get())
                done, _ = await asyncio.wait({getter, closed}, timeout=CHECK_S, return_when="FIRST_COMPLETED")
                if getter in done:
                    await response.write(getter.result())
                    last_write = loop.time()
                    continue
                getter.cancel()
                if request.transport is None or request.transport.is_closing():
                    break  # the client left: free its place now rather than at the next heartbeat
                if not done and loop.time() - last_write >= heartbeat_s:
                    await response.write(b": heartbeat\n\n")
                    last_write = loop.time()
        except (ConnectionError, RuntimeError):  # the client left, or was dropped mid-write
            pass
        finally:
            closed.cancel()
            hub.leave(stream)
        return response

    return get_events


EVENT_HUB = web.AppKey("event_hub", EventHub)


def add_event_routes(app: web.Application, status: StatusSource, paths: Iterable[str]) -> EventHub:
    """Serve the stream at each of ``paths`` (e.g. "/v6/events/"), from one hub."""
    hub = EventHub(status)
    for path in paths:
        app.router.add_get(path, events_handler(hub), allow_head=False)
    app.on_shutdown.append(hub.close)
    app[EVENT_HUB] = hub
    return hub
