"""A minimal v1 scheduler client for testing the simulator over real HTTP.

Deliberately independent of scheduler/mesos: plain aiohttp plus a small
RecordIO reader that buffers across chunk boundaries.
"""

from __future__ import annotations

import asyncio
import base64
import json

import aiohttp

API = "/api/v1/scheduler"
JSON = {"Content-Type": "application/json"}


class RecordIOReader:
    """Parses "<size>\\n<data>" records from a stream of arbitrary chunks."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        self._buf.extend(chunk)
        records = []
        while True:
            newline = self._buf.find(b"\n")
            if newline < 0:
                break
            size_text = bytes(self._buf[:newline])
            if not size_text.isdigit():
                raise ValueError(f"bad RecordIO size {size_text!r}")
            size = int(size_text)
            if size == 0:
                raise ValueError("RecordIO size 0 is not allowed")
            if len(self._buf) < newline + 1 + size:
                break
            records.append(bytes(self._buf[newline + 1 : newline + 1 + size]))
            del self._buf[: newline + 1 + size]
        return records

    @property
    def pending(self) -> int:
        return len(self._buf)


class Subscription:
    """An open SUBSCRIBE stream; events are read in the background into a queue."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.stream_id = response.headers.get("Mesos-Stream-Id")
        self.framework_id: str | None = None
        self.events: asyncio.Queue = asyncio.Queue()
        self.history: list[dict] = []
        self.passed_offers: list[dict] = []  # OFFERS events a wait for another event passed over
        self.ended = asyncio.Event()
        self.end_error: BaseException | None = None
        self._reader = RecordIOReader()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for chunk in self.response.content.iter_any():
                for raw in self._reader.feed(chunk):
                    event = json.loads(raw)
                    self.history.append(event)
                    await self.events.put(event)
        except (aiohttp.ClientError, ConnectionError) as exc:
            self.end_error = exc
        finally:
            self.ended.set()

    async def next(self, timeout: float = 3.0, *, skip_heartbeats: bool = True) -> dict:
        while True:
            event = await asyncio.wait_for(self.events.get(), timeout)
            if skip_heartbeats and event["type"] == "HEARTBEAT":
                continue
            return event

    async def expect(self, type_: str, timeout: float = 3.0, predicate=None) -> dict:
        """The next event of this type (others are dropped); fails after timeout."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"no {type_} event within {timeout} s")
            try:
                event = await asyncio.wait_for(self.events.get(), remaining)
            except TimeoutError:
                raise AssertionError(f"no {type_} event within {timeout} s") from None
            if event["type"] == type_ and (predicate is None or predicate(event)):
                return event
            if event["type"] == "OFFERS":
                self.passed_offers.append(event)

    async def offers_where(self, predicate, timeout: float = 3.0) -> dict:
        """An OFFERS event that matches: one an earlier wait passed over (the latest first), else the
        next. A leftover re-offered while a test waited for its task's updates is not lost."""
        for event in reversed(self.passed_offers):
            if predicate(event):
                self.passed_offers.remove(event)
                return event
        return await self.expect("OFFERS", timeout, predicate)

    async def updates(self, count: int, timeout: float = 3.0, task_id: str | None = None) -> list[dict]:
        out = []
        for _ in range(count):
            event = await self.expect(
                "UPDATE", timeout, (lambda e: e["update"]["status"]["task_id"]["value"] == task_id) if task_id else None
            )
            out.append(event["update"]["status"])
        return out

    async def quiet(self, seconds: float, types=("UPDATE", "OFFERS", "RESCIND")) -> list[dict]:
        """Collect events of these types for `seconds` (expecting usually none)."""
        seen = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (remaining := deadline - loop.time()) > 0:
            try:
                event = await asyncio.wait_for(self.events.get(), remaining)
            except TimeoutError:
                break
            if event["type"] in types:
                seen.append(event)
        return seen

    async def wait_ended(self, timeout: float = 3.0) -> None:
        await asyncio.wait_for(self.ended.wait(), timeout)

    async def close(self) -> None:
        self.response.close()
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass


def framework_info(**extra) -> dict:
    info = {"user": "scale", "name": "sim-test", "failover_timeout": 60.0}
    info.update(extra)
    return info


def task_info(
    offer: dict,
    task_id: str,
    *,
    cpus: float = 1.0,
    mem: float = 128.0,
    ports=None,
    labels: dict | None = None,
    name: str | None = None,
    command: str = "sleep 10",
    agent_id: str | None = None,
) -> dict:
    resources = [
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
        {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}},
    ]
    if ports:
        resources.append(
            {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": b, "end": e} for b, e in ports]}}
        )
    info = {
        "name": name or task_id,
        "task_id": {"value": task_id},
        "agent_id": {"value": agent_id or offer["agent_id"]["value"]},
        "resources": resources,
        "command": {"value": command},
    }
    if labels:
        info["labels"] = {"labels": [{"key": k, "value": str(v)} for k, v in labels.items()]}
    return info


def scalar(offer: dict, name: str) -> float:
    return sum(r["scalar"]["value"] for r in offer["resources"] if r["name"] == name)


class SimClient:
    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url
        self._subs: list[Subscription] = []

    async def post_raw(self, body, headers=None, method: str = "POST") -> tuple[int, str, dict]:
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        async with self.session.request(
            method, self.url + API, data=data, headers=headers, allow_redirects=False
        ) as resp:
            return resp.status, await resp.text(), dict(resp.headers)

    async def subscribe(
        self,
        info: dict | None = None,
        framework_id: str | None = None,
        headers: dict | None = None,
        suppressed_roles=None,
        expect_subscribed: bool = True,
    ) -> Subscription:
        info = dict(info or framework_info())
        call: dict = {"type": "SUBSCRIBE", "subscribe": {"framework_info": info}}
        if framework_id:
            info["id"] = {"value": framework_id}
            call["framework_id"] = {"value": framework_id}
        if suppressed_roles is not None:
            call["subscribe"]["suppressed_roles"] = suppressed_roles
        resp = await self.session.post(
            self.url + API,
            data=json.dumps(call),
            headers=headers or {"Content-Type": "application/json", "Accept": "application/json"},
            timeout=aiohttp.ClientTimeout(total=None, sock_read=None),
        )
        assert resp.status == 200, (resp.status, await resp.text())
        sub = Subscription(resp)
        self._subs.append(sub)
        if expect_subscribed:
            first = await sub.next(skip_heartbeats=False)
            assert first["type"] == "SUBSCRIBED", first
            sub.framework_id = first["subscribed"]["framework_id"]["value"]
            sub.subscribed = first
        return sub

    async def call(self, sub: Subscription, call: dict, *, stream_id: str | None = None) -> tuple[int, str]:
        body = {"framework_id": {"value": sub.framework_id}, **call}
        headers = {"Content-Type": "application/json", "Mesos-Stream-Id": stream_id or sub.stream_id}
        status, text, _ = await self.post_raw(body, headers)
        return status, text

    async def accept(self, sub, offer_ids, tasks=(), refuse_seconds=None, operations=None):
        accept = {
            "offer_ids": [{"value": o} for o in offer_ids],
            "operations": operations
            if operations is not None
            else [{"type": "LAUNCH", "launch": {"task_infos": list(tasks)}}],
        }
        if refuse_seconds is not None:
            accept["filters"] = {"refuse_seconds": refuse_seconds}
        status, text = await self.call(sub, {"type": "ACCEPT", "accept": accept})
        assert status == 202, (status, text)

    async def decline(self, sub, offer_ids, refuse_seconds=None):
        decline = {"offer_ids": [{"value": o} for o in offer_ids]}
        if refuse_seconds is not None:
            decline["filters"] = {"refuse_seconds": refuse_seconds}
        status, text = await self.call(sub, {"type": "DECLINE", "decline": decline})
        assert status == 202, (status, text)

    async def ack(self, sub, status: dict):
        code, text = await self.call(
            sub,
            {
                "type": "ACKNOWLEDGE",
                "acknowledge": {"agent_id": status["agent_id"], "task_id": status["task_id"], "uuid": status["uuid"]},
            },
        )
        assert code == 202, (code, text)

    async def control(self, method: str, path: str, body=None, *, headers=None) -> tuple[int, dict]:
        data = None if body is None else (body if isinstance(body, (bytes, str)) else json.dumps(body))
        if headers is None and method in ("POST", "PUT"):
            headers = JSON
        async with self.session.request(method, self.url + path, data=data, headers=headers) as resp:
            text = await resp.text()
            return resp.status, (json.loads(text) if text else {})

    async def get_json(self, path: str) -> tuple[int, dict]:
        async with self.session.get(self.url + path, allow_redirects=False) as resp:
            text = await resp.text()
            return resp.status, (json.loads(text) if text and resp.content_type == "application/json" else text)

    async def close(self) -> None:
        for sub in self._subs:
            await sub.close()


def b64_uuid(raw: bytes) -> str:
    return base64.b64encode(raw).decode()
