"""The Mesos v1 scheduler driver: one asyncio client on aiohttp, no threads.

It keeps one subscription alive (SUBSCRIBE, RecordIO stream, ``Mesos-Stream-Id``), turns records into
typed events for the scheduler, and sends calls on other connections. Losing the stream (master gone,
307 to a new leader, 503 while it recovers, heartbeats missed) leads to a re-subscribe with the same
framework id after a capped, jittered exponential backoff, so running tasks are kept.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import logging
import random
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import orjson

from scheduler.aio import wait_event
from scheduler.backoff import Backoff
from scheduler.loop_turns import TURN_BUDGET_S, Slice
from scheduler.mesos import calls
from scheduler.mesos.call_client import CallClient
from scheduler.mesos.calls import FrameworkSpec
from scheduler.mesos.events import (
    Disconnected,
    Event,
    MalformedEvent,
    MasterError,
    Subscribed,
    TaskStatus,
    parse_event,
    split_offers,
)
from scheduler.mesos.recordio import RecordIODecoder, RecordIOError
from scheduler.redact import mask_url

log = logging.getLogger(__name__)

SCHEDULER_PATH = "/api/v1/scheduler"
DEFAULT_HEARTBEAT_S = 15.0  # until SUBSCRIBED tells us the master's interval
DECLINE_BATCH = 2000  # offer ids per DECLINE call, keeping each request small
RECOVERING_RETRY_MAX_S = 2.0  # backoff cap while the master answers 503: it is there, just not ready
# A read of the stream can hold thousands of events (the loop was busy; a burst of updates): they are
# parsed and handed over in slices (``loop_turns``), the loop's other work in between.
DISPATCH_TURN_S = TURN_BUDGET_S
OFFERS_PER_SLICE = 100  # offers of one OFFERS event read and handed over together (see _read_stream)
# A listing of the master's agents is about 0.7 KB per agent (7 MB at 10,000): room for 100,000 and more.
MAX_LISTING_BYTES = 128 * 1024 * 1024


class FrameworkIdStore(Protocol):
    """Where the framework id lives between runs (the scheduler row in the database)."""

    async def load_framework_id(self) -> str | None: ...

    async def save_framework_id(self, framework_id: str | None) -> None: ...


class MemoryFrameworkIdStore:
    def __init__(self, framework_id: str | None = None) -> None:
        self.framework_id = framework_id

    async def load_framework_id(self) -> str | None:
        return self.framework_id

    async def save_framework_id(self, framework_id: str | None) -> None:
        self.framework_id = framework_id


class CallError(Exception):
    """A call the master did not accept; ``status`` is the HTTP status (0: no answer)."""

    def __init__(self, kind: str, status: int, detail: str) -> None:
        super().__init__(f"{kind} call failed: {status or 'no answer'} {detail}".strip())
        self.kind, self.status, self.detail = kind, status, detail


class NotSubscribed(CallError):
    def __init__(self, kind: str) -> None:
        super().__init__(kind, 0, "not subscribed to a master")


class _StreamEnded(Exception):
    """The subscription is over; the message says why (for the log and the Disconnected event)."""

    def __init__(self, reason: str, *, master_recovering: bool = False) -> None:
        super().__init__(reason)
        self.master_recovering = master_recovering


class _Redirected(Exception):
    def __init__(self, leader_url: str) -> None:
        super().__init__(leader_url)
        self.leader_url = leader_url


@dataclass(frozen=True)
class DriverOptions:
    master_url: str
    call_timeout_s: float = 75.0
    connect_timeout_s: float = 10.0
    missed_heartbeats: int = 5
    backoff_base_s: float = 0.5
    backoff_max_s: float = 15.0
    call_retries: int = 4  # for 503 answers
    max_redirects: int = 5  # in a row, before backing off
    # HTTP Basic credentials sent on every request to the master (--authenticate_http_frameworks).
    principal: str | None = None
    secret: str | None = field(default=None, repr=False)
    # TLS of https:// masters: the context built from CA_FILE (scheduler.tls), or aiohttp's default.
    ssl: ssl.SSLContext | bool = field(default=True, repr=False)


def auth_headers(options: DriverOptions) -> dict[str, str]:
    """HTTP Basic for every request, or nothing without a secret (a principal alone only names us)."""
    if options.principal is None or options.secret is None:
        return {}
    # Mesos compares the decoded bytes with its credentials file, which is UTF-8 JSON.
    token = base64.b64encode(f"{options.principal}:{options.secret}".encode()).decode("ascii")
    return {"Authorization": f"Basic {token}"}


def resolve_location(current_url: str, location: str) -> str:
    """The leader's base URL from a 307 Location, which Mesos sends protocol-relative (``//h:p/path``)."""
    current = urlsplit(current_url)
    target = urlsplit(location if "//" in location else f"//{location}")
    path = target.path
    if path.endswith(SCHEDULER_PATH):
        path = path[: -len(SCHEDULER_PATH)]
    return urlunsplit((target.scheme or current.scheme, target.netloc or current.netloc, path.rstrip("/"), "", ""))


EventHandler = Callable[[Event], None]
_SAVED = object()  # marks "the stored framework id is the current one"


async def _read_at_most(resp: aiohttp.ClientResponse, limit: int, what: str) -> bytes:
    """The answer's body, refused past ``limit`` bytes (a master's answer is input like any other)."""
    if (resp.content_length or 0) > limit:
        raise CallError(what, 0, f"(refused: more than the {limit} bytes allowed, {resp.content_length} announced)")
    chunks, size = [], 0
    async for chunk in resp.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise CallError(what, 0, f"(refused: more than the {limit} bytes allowed)")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_and_read(body: bytes, read: Callable[[Any], Any] | None) -> Any:
    document = orjson.loads(body)
    return document if read is None else read(document)


def _parse_and_read_uncollected(body: bytes, read: Callable[[Any], Any] | None) -> Any:
    """``_parse_and_read`` with the garbage collector paused (in a thread, for large answers).

    Every object of the parsed document lives until the read is done, and then they die together:
    a young collection in between walks hundreds of thousands of them for nothing, holding the
    interpreter, so the event loop waits too (a 7 MB listing of 10,000 agents: 5 young and 1 middle
    collection, 76-167 ms, on a slow 2-core VM; 8-23 ms for the one collection after a paused read).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _parse_and_read(body, read)
    finally:
        if enabled:  # another thread may have paused it too: the first to finish turns it back on
            gc.enable()


class MesosDriver:
    """Subscribe, stay subscribed, hand events to ``on_event`` in order, and send calls."""

    def __init__(
        self,
        spec: FrameworkSpec,
        options: DriverOptions,
        on_event: EventHandler,
        id_store: FrameworkIdStore,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.spec = spec
        self.options = options
        self._on_event = on_event
        self._id_store = id_store
        self._rng = rng or random.Random()
        self._seed_url = options.master_url.rstrip("/")
        self.master_url = self._seed_url  # the leader, once a redirect has told us who it is
        self.framework_id: str | None = None
        self.stream_id: str | None = None
        self.heartbeat_interval_s = DEFAULT_HEARTBEAT_S
        self.subscriptions = 0  # successful SUBSCRIBEDs, for tests and the status
        self.last_event_monotonic: float | None = None
        self._session: aiohttp.ClientSession | None = None  # the subscription and GETs
        self._calls: CallClient | None = None  # the calls (POSTs), pipelined
        self._stream_task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()  # ends a backoff pause: stop, or a new master from the detector
        self._loaded_id = False
        self._muted = False
        self.superseded = False  # another scheduler subscribed with our framework id
        self._unsaved_framework_id: object = _SAVED
        self._save_retry_task: asyncio.Task[None] | None = None

    # --- state ---

    @property
    def subscribed(self) -> bool:
        return self.stream_id is not None

    # --- lifecycle ---

    async def run(self) -> None:
        """Keep a subscription until ``stop``; never raises for master or network trouble."""
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=32, enable_cleanup_closed=True, ssl=self.options.ssl),
            headers=auth_headers(self.options),
            json_serialize=lambda o: orjson.dumps(o).decode(),
        )
        backoff, redirects = Backoff(self.options.backoff_base_s, self.options.backoff_max_s, self._rng), 0
        try:
            await self._load_framework_id()
            while not self._stopping.is_set():
                if not self.master_url:  # zk://: no leader detected yet
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                subscriptions_before = self.subscriptions
                self._wake.clear()  # the URL is read below: a wake-up before this point is served
                self._stream_task = asyncio.create_task(self._subscribe_once(), name="mesos-subscription")
                reason = "stream ended"
                recovering = False
                try:
                    await self._stream_task
                except _Redirected as redirect:
                    reason = f"redirected to the leading master {redirect.leader_url}"
                    self.master_url = redirect.leader_url
                    redirects += 1
                    if redirects <= self.options.max_redirects:
                        self._end_subscription(reason)
                        log.info("Master %s is not the leader; following the redirect", mask_url(self.master_url))
                        continue
                except asyncio.CancelledError:
                    if asyncio.current_task().cancelling():
                        raise  # run() itself is being cancelled
                    reason = "stopped" if self._stopping.is_set() else "re-subscribing on request"
                except _StreamEnded as ended:
                    reason = str(ended)
                    recovering = ended.master_recovering
                except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                    reason = f"cannot reach the master at {mask_url(self.master_url)}: {exc!r}"
                    # The leader we were redirected to may be gone; start again from the configured one.
                    self.master_url = self._seed_url
                finally:
                    self._stream_task = None
                self._end_subscription(reason)
                if self._stopping.is_set():
                    break
                if self.subscriptions > subscriptions_before:
                    backoff.reset()
                    redirects = 0
                if self._wake.is_set():  # told of a new leader: go there now, no backoff
                    self._wake.clear()
                    backoff.reset()
                    redirects = 0
                    continue
                delay = backoff.next(cap_s=RECOVERING_RETRY_MAX_S if recovering else None)
                log.warning("Mesos subscription lost (%s); re-subscribing in %.1f s", reason, delay)
                if await wait_event(self._wake, delay):
                    backoff.reset()  # a new leader (or stop): the backoff starts over
                    redirects = 0
        finally:
            self._end_subscription("driver stopped")
            if self._save_retry_task is not None:
                self._save_retry_task.cancel()
            await self._session.close()
            self._session = None
            if self._calls is not None:
                self._calls.close()
                self._calls = None

    async def _load_framework_id(self) -> None:
        # Subscribing without the stored id would orphan every running task, so wait for it.
        backoff = Backoff(1.0, 30.0, self._rng)
        while not self._loaded_id and not self._stopping.is_set():
            try:
                self.framework_id = await self._id_store.load_framework_id()
                self._loaded_id = True
            except Exception as exc:
                delay = backoff.next()
                log.error("Cannot read the stored framework id (%s); retrying in %.1f s", exc, delay)
                await wait_event(self._stopping, delay)

    async def stop(self, *, teardown: bool = False) -> None:
        """End the subscription. Only ``teardown=True`` asks Mesos to kill the framework's tasks."""
        if teardown and self.subscribed and self.framework_id:
            try:
                await self._post(calls.teardown(self.framework_id), "TEARDOWN")
                log.warning("Sent TEARDOWN: Mesos will kill every task of framework %s", self.framework_id)
                self.framework_id = None
                await self._persist_framework_id(None)
            except CallError as exc:
                log.error("TEARDOWN failed: %s", exc)
        self._stopping.set()
        self._wake.set()
        if self._stream_task is not None:
            self._stream_task.cancel()

    def set_master(self, url: str | None) -> None:
        """A master detector names the leader: subscribe there now, same framework id, no backoff.

        ``None`` (no leader known) keeps the current master: it may still answer, or fail over.
        """
        if not url:
            return
        url = url.rstrip("/")
        if url == self._seed_url and url == self.master_url:
            return
        log.info("Leading master is now %s", mask_url(url))
        self._seed_url = self.master_url = url
        self._wake.set()
        if self._stream_task is not None and not self._stream_task.done():
            self._stream_task.cancel()

    def resubscribe(self, reason: str) -> None:
        """Drop the current subscription and subscribe again (after a 403, a lost leader, ...)."""
        if self._stream_task is not None and not self._stream_task.done():
            log.warning("Re-subscribing to Mesos: %s", reason)
            self._stream_task.cancel()

    # --- the subscription ---

    def _end_subscription(self, reason: str) -> None:
        if self.stream_id is None:
            return
        self.stream_id = None
        self._dispatch(Disconnected(reason))

    def mute(self) -> None:
        """Stop handing events over (shutting down); calls still work until ``stop``."""
        self._muted = True

    def _dispatch(self, event: Event) -> None:
        if self._muted:
            return
        try:
            self._on_event(event)
        except Exception:  # a bug in the handler must not end the subscription
            log.exception("Handler failed on %s", type(event).__name__)

    async def _subscribe_once(self) -> None:
        assert self._session is not None
        body = orjson.dumps(calls.subscribe(self.spec, self.framework_id))
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.options.connect_timeout_s, sock_read=None)
        url = self.master_url + SCHEDULER_PATH
        log.info("Subscribing to %s as %s", mask_url(url), self.framework_id or "a new framework")
        # The headers must come within the call timeout: a master (or a balancer) that accepts the
        # connection and never answers would otherwise hold the driver before the watchdog starts.
        async with asyncio.timeout(self.options.call_timeout_s):
            resp = await self._session.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False)
        async with resp:
            if resp.status == 307:
                raise _Redirected(resolve_location(self.master_url, resp.headers.get("Location", "")))
            if resp.status != 200:
                text = (await resp.text())[:300].strip()
                # 503: a master that is up but recovering (or electing); it is cheap to ask again soon.
                raise _StreamEnded(f"SUBSCRIBE answered {resp.status} {text}", master_recovering=resp.status == 503)
            stream_id = resp.headers.get("Mesos-Stream-Id")
            if not stream_id:
                raise _StreamEnded("SUBSCRIBE answered 200 without a Mesos-Stream-Id header")
            await self._read_stream(resp, stream_id)
        raise _StreamEnded("the master closed the stream")

    async def _read_stream(self, resp: aiohttp.ClientResponse, stream_id: str) -> None:
        decoder = RecordIODecoder()
        loop = asyncio.get_running_loop()
        while True:
            # Any event proves the connection alive; silence for several heartbeats means it is not.
            silence_s = self.heartbeat_interval_s * self.options.missed_heartbeats
            try:
                async with asyncio.timeout(silence_s):
                    chunk = await resp.content.readany()
            except TimeoutError:
                missed = self.options.missed_heartbeats
                raise _StreamEnded(f"no event for {silence_s:.1f} s ({missed} heartbeats)") from None
            if not chunk:
                return
            self.last_event_monotonic = loop.time()
            try:
                records = decoder.feed(chunk)
            except RecordIOError as exc:
                raise _StreamEnded(f"the stream is not RecordIO: {exc}") from None
            turn = Slice(DISPATCH_TURN_S)
            for record in records:
                if turn.over():
                    await asyncio.sleep(0)  # the rest of a large read after the loop's other work
                    turn.restart()
                data = self._load(record)
                slices = split_offers(data, OFFERS_PER_SLICE) if data is not None else None
                if slices is not None:
                    # The master sends an allocation's offers in one event (a thousand or more on a large
                    # cluster: 40 ms and more to read): read and handed over a slice at a time, in turns.
                    for part in slices:
                        if turn.over():
                            await asyncio.sleep(0)
                            turn.restart()
                        offers = self._parse(part, len(record))
                        if offers is not None:
                            self._dispatch(offers)
                    continue
                event = self._parse(data, len(record)) if data is not None else None
                if event is None:
                    continue
                if isinstance(event, Subscribed):
                    await self._on_subscribed(event, stream_id)
                    continue
                self._dispatch(event)
                if isinstance(event, MasterError):
                    if event.failed_over:
                        # Someone else subscribed with our framework id: fighting back would make two
                        # schedulers kill each other's tasks. Stop, and say so.
                        log.error("Another scheduler took over framework %s; this one stops", self.framework_id)
                        self.superseded = True
                        self._stopping.set()
                    if event.framework_removed:
                        log.error(
                            "Mesos removed framework %s (%s): its tasks are gone; subscribing as a new framework",
                            self.framework_id,
                            event.message,
                        )
                        self.framework_id = None
                        await self._persist_framework_id(None)
                    raise _StreamEnded(f"master error: {event.message}")

    async def _persist_framework_id(self, framework_id: str | None) -> None:
        """Store the id; while the database is away keep it in memory and retry in the background."""
        self._unsaved_framework_id = framework_id
        try:
            await self._id_store.save_framework_id(framework_id)
            self._unsaved_framework_id = _SAVED
            return
        except Exception as exc:  # any database trouble; the id must still be used
            log.error("Could not store framework id %s: %s; retrying in the background", framework_id, exc)
        if self._save_retry_task is None or self._save_retry_task.done():
            self._save_retry_task = asyncio.create_task(self._retry_save(), name="framework-id-save")

    async def _retry_save(self) -> None:
        backoff = Backoff(1.0, 30.0, self._rng)
        while self._unsaved_framework_id is not _SAVED:
            await asyncio.sleep(backoff.next())
            value = self._unsaved_framework_id
            try:
                await self._id_store.save_framework_id(value)
            except Exception as exc:
                log.warning("Still cannot store framework id: %s", exc)
                continue
            if self._unsaved_framework_id == value:
                self._unsaved_framework_id = _SAVED
                log.info("Stored framework id %s", value)

    @property
    def framework_id_saved(self) -> bool:
        return self._unsaved_framework_id is _SAVED

    def _load(self, record: bytes) -> Any:
        try:
            return orjson.loads(record)
        except orjson.JSONDecodeError as exc:
            log.warning("Skipping a malformed event from the master: %s (%d bytes)", exc, len(record))
        return None

    def _parse(self, data: Any, size: int) -> Event | None:
        try:
            return parse_event(data)
        except MalformedEvent as exc:
            log.warning("Skipping a malformed event from the master: %s (%d bytes)", exc, size)
        except Exception as exc:  # anything else the parser did not foresee: skip, never end the stream
            log.warning("Skipping an event from the master that could not be read: %r (%d bytes)", exc, size)
        return None

    async def _on_subscribed(self, event: Subscribed, stream_id: str) -> None:
        previous = self.framework_id
        self.framework_id = event.framework_id
        self.heartbeat_interval_s = event.heartbeat_interval_s
        if previous != event.framework_id:
            # Stored before the handler hears of it (and so before anything is launched), so that a
            # restarted scheduler finds its tasks under this id.
            await self._persist_framework_id(event.framework_id)
        self.stream_id = stream_id
        self.subscriptions += 1
        log.info(
            "Subscribed to %s as framework %s (heartbeat every %.1f s)",
            mask_url(self.master_url),
            event.framework_id,
            event.heartbeat_interval_s,
        )
        self._dispatch(event)

    # --- calls ---

    async def _post(self, call: dict[str, Any], kind: str) -> None:
        if self._session is None or not self.subscribed:
            raise NotSubscribed(kind)
        body = orjson.dumps(call)
        backoff = Backoff(self.options.backoff_base_s, 5.0, self._rng)
        for attempt in range(self.options.call_retries + 1):
            stream_id = self.stream_id
            if stream_id is None:
                raise NotSubscribed(kind)
            try:
                status, answer = await self._call_client().post(
                    SCHEDULER_PATH, body, {"Mesos-Stream-Id": stream_id}, self.options.call_timeout_s
                )
            except (OSError, ValueError) as exc:  # no answer: refused, closed, timed out, unreadable
                raise CallError(kind, 0, repr(exc)) from None
            if status in (200, 202):
                return
            detail = answer[:300].decode("utf-8", "replace").strip()
            if status == 503 and attempt < self.options.call_retries:
                await asyncio.sleep(backoff.next())
                continue
            if status in (307, 403):
                # No longer the leader, or the master no longer sees our subscription.
                self.resubscribe(f"{kind} answered {status} {detail}")
            raise CallError(kind, status, detail)

    def _call_client(self) -> CallClient:
        """Calls go to the master we are subscribed to, on connections of their own (see call_client)."""
        client = self._calls
        if client is None or client.base_url != self.master_url:
            if client is not None:
                client.close()
            client = self._calls = CallClient(
                self.master_url,
                ssl=self.options.ssl,
                headers=auth_headers(self.options),
                connect_timeout_s=self.options.connect_timeout_s,
            )
        return client

    def _framework(self, kind: str) -> str:
        if not self.framework_id or not self.subscribed:
            raise NotSubscribed(kind)
        return self.framework_id

    async def launch(self, offer_ids: Sequence[str], task_infos: Sequence[dict], refuse_seconds: float | None) -> None:
        """ACCEPT the offers (all of one agent) with one LAUNCH of ``task_infos``; the rest is declined."""
        await self._post(calls.accept(self._framework("ACCEPT"), offer_ids, task_infos, refuse_seconds), "ACCEPT")

    async def decline(self, offer_ids: Sequence[str], refuse_seconds: float | None) -> None:
        framework_id = self._framework("DECLINE")
        for start in range(0, len(offer_ids), DECLINE_BATCH):
            batch = offer_ids[start : start + DECLINE_BATCH]
            await self._post(calls.decline(framework_id, batch, refuse_seconds), "DECLINE")

    async def kill(self, task_id: str, agent_id: str | None = None) -> None:
        await self._post(calls.kill(self._framework("KILL"), task_id, agent_id), "KILL")

    async def acknowledge(self, status: TaskStatus) -> bool:
        """Acknowledge an update that carries a uuid; master-generated ones (no uuid) are skipped."""
        if not status.uuid or not status.agent_id:
            return False
        await self.acknowledge_update(status.agent_id, status.task_id, status.uuid)
        return True

    async def acknowledge_update(self, agent_id: str, task_id: str, uuid: str) -> None:
        """Acknowledge the update ``uuid`` of a task (what ``acknowledge`` sends, from its ids)."""
        await self._post(
            calls.acknowledge_update(self._framework("ACKNOWLEDGE"), agent_id, task_id, uuid), "ACKNOWLEDGE"
        )

    async def reconcile(self, tasks: Sequence[tuple[str, str | None]] = ()) -> None:
        await self._post(calls.reconcile(self._framework("RECONCILE"), tasks), "RECONCILE")

    async def revive(self, roles: Sequence[str] = ()) -> None:
        await self._post(calls.revive(self._framework("REVIVE"), roles), "REVIVE")

    async def suppress(self, roles: Sequence[str] = ()) -> None:
        await self._post(calls.suppress(self._framework("SUPPRESS"), roles), "SUPPRESS")

    async def get_master_json(self, path: str, read: Callable[[Any], Any] | None = None) -> Any:
        """GET a JSON endpoint of the leading master (``/master/slaves``, ``/master/state``); with
        ``read``, what it makes of the document (raising ``ValueError`` when it cannot)."""
        return await self._master_json("GET", path, None, read)

    async def operator_call(self, call: dict, read: Callable[[Any], Any] | None = None) -> Any:
        """A call of the master's v1 operator API (``POST /api/v1``, e.g. ``{"type": "GET_FRAMEWORKS"}``),
        its JSON answer read as ``get_master_json`` reads a listing."""
        return await self._master_json("POST", "/api/v1", orjson.dumps(call), read)

    async def _master_json(self, method: str, path: str, body: bytes | None, read: Callable[[Any], Any] | None) -> Any:
        what = f"{method} {path}"
        if self._session is None:
            raise CallError(what, 0, "driver not running")
        timeout = aiohttp.ClientTimeout(total=self.options.call_timeout_s)
        headers = {"Content-Type": "application/json", "Accept": "application/json"} if body is not None else None
        try:
            async with self._session.request(
                method, self.master_url + path, data=body, headers=headers, timeout=timeout
            ) as resp:
                if resp.status != 200:
                    raise CallError(what, resp.status, (await resp.text())[:200])
                document = await _read_at_most(resp, MAX_LISTING_BYTES, what)
            # A large cluster's listing is megabytes: parsed and read in a thread (10,000 agents: 27 ms
            # to parse, then 33 ms to make reports of, on the reference machine). The read lets go of
            # the interpreter every millisecond; the parse, one orjson call, holds it throughout, so
            # the loop still waits for it (60-74 ms with the document's drop on a 2-core VM). Parsing
            # and freeing it a piece at a time was tried and not kept: see bench/HISTORY.md.
            if len(document) < 1_000_000:
                return _parse_and_read(document, read)
            return await asyncio.to_thread(_parse_and_read_uncollected, document, read)
        except (TimeoutError, aiohttp.ClientError, OSError, orjson.JSONDecodeError) as exc:
            raise CallError(what, 0, repr(exc)) from None
