"""Fire-and-forget calls to the master, each one logged if it fails and never lost as a stray task."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

from scheduler.mesos.driver import CallError

log = logging.getLogger(__name__)


class BackgroundCalls:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self.failures = 0

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, call: Awaitable[object], what: str) -> None:
        task = asyncio.ensure_future(self._run(call, what))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, call: Awaitable[object], what: str) -> None:
        try:
            await call
        except CallError as exc:
            self.failures += 1
            log.warning("%s: %s", what, exc)
        except Exception:
            self.failures += 1
            log.exception("%s failed", what)

    async def drain(self, timeout_s: float) -> None:
        """Wait for the calls in flight (on shutdown), then cancel what is left."""
        if self._tasks:
            _done, pending = await asyncio.wait(set(self._tasks), timeout=timeout_s)
            for task in pending:
                task.cancel()
