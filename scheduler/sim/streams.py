"""Subscription streams: RecordIO records queued per connection, heartbeats, closing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import orjson
from aiohttp import web


def record(event: dict) -> bytes:
    """One RecordIO record: "<byte length>\\n<json>"."""
    data = orjson.dumps(event)
    return b"%d\n%s" % (len(data), data)


HEARTBEAT_RECORD = record({"type": "HEARTBEAT"})
CLOSE = object()  # end the stream cleanly (chunked terminator)
ABORT = object()  # drop the connection, as a crashing master does


class Stream:
    """One open subscription connection."""

    __slots__ = ("id", "framework_id", "queue", "silenced_until", "closing", "request", "beat")

    def __init__(self, stream_id: str, framework_id: str, request: web.Request) -> None:
        self.id = stream_id
        self.framework_id = framework_id
        self.queue: asyncio.Queue = asyncio.Queue()
        self.silenced_until = 0.0
        self.closing = False  # the master ended it; no disconnect bookkeeping needed
        self.request = request
        self.beat: asyncio.TimerHandle | None = None

    def arm_heartbeat(self, interval_s: float, clock: Callable[[], float]) -> None:
        """Queue a HEARTBEAT every `interval_s` unless silenced, until the stream closes."""

        def beat() -> None:
            if self.closing:
                return
            if self.silenced_until <= clock():
                self.queue.put_nowait(HEARTBEAT_RECORD)
            self.beat = asyncio.get_running_loop().call_later(interval_s, beat)

        self.beat = asyncio.get_running_loop().call_later(interval_s, beat)

    async def pump(self, response: web.StreamResponse, interval_s: float, clock: Callable[[], float]) -> None:
        """Write queued records until the master closes (cleanly or by aborting) the stream."""
        self.arm_heartbeat(interval_s, clock)
        try:
            while True:
                item = await self.queue.get()
                if item is CLOSE:
                    await response.write_eof()
                    return
                if item is ABORT:
                    transport = self.request.transport
                    if transport is not None:
                        transport.abort()
                    return
                await response.write(item)
        finally:
            self.beat.cancel()
