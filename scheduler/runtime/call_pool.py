"""Calls to the master made in the background by a fixed set of workers, each logged if it fails.

A busy cluster asks for tens of thousands of calls in a burst (one ACKNOWLEDGE per status update:
the v1 API has no batch form). One coroutine and one pending request per call would pile up
timers, memory and event-loop work until the loop does nothing else; a queue drained by a fixed
number of workers keeps the cost per call flat. The workers are four times the call client's
connections, so each connection has a few calls pipelined: a master that stalls now and then (a
large listing built in its one actor) answers them back to back when it is free again, where one
call per connection left the acknowledgements trickling at a few hundred a second. A call already
waiting under the same key (the master resending an update we have not acknowledged yet) is not
queued twice.

Acknowledgements wait in a lane of their own, each as a tuple of strings and its time (no callable):
under load some 15,000 of them wait seconds for a worker, and as closures (a partial, a bound method,
the whole update) they were half of what the collector's middle generation walked each time
(bench-scale, 10,000 agents). A tuple holding only strings and numbers is dropped from the
collector's sight at its first young collection. Calls of both lanes are made oldest first.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from functools import partial

from scheduler.mesos.call_client import DEFAULT_CONNECTIONS
from scheduler.mesos.driver import CallError

log = logging.getLogger(__name__)

WORKERS = 4 * DEFAULT_CONNECTIONS  # calls being made at once (see above)

Call = Callable[[], Awaitable[object]]
# (agent id, task id, uuid, state, when queued): what an ACKNOWLEDGE needs and its key, and nothing
# the collector walks.
Acknowledgement = tuple[str, str, str, str, float]


def acknowledgement_key(task_id: str, uuid: str, state: str) -> tuple[str, str, str, str]:
    """The key an acknowledgement waits under: the uuid names the update; its state too, so that a
    master reusing a uuid cannot have a new state taken for a resend. Plain strings (``str(state)``
    of a ``TaskState``), so that the key too is out of the collector's sight."""
    return ("ack", task_id, uuid, str(state))


class BackgroundCalls:
    def __init__(self, workers: int = WORKERS, clock: Callable[[], float] = time.monotonic) -> None:
        self._queue: deque[tuple[Call, str, Hashable | None, float]] = deque()
        # Calls made before the others (ACCEPTs: placement waits for their answers, while an
        # acknowledgement can wait, the master resending its update meanwhile).
        self._first: deque[tuple[Call, str, Hashable | None, float]] = deque()
        self._acks: deque[Acknowledgement] = deque()
        # Makes an acknowledgement (agent id, task id, uuid); set by whoever queues them.
        self.acknowledger: Callable[[str, str, str], Awaitable[object]] | None = None
        self._clock = clock
        self._keys: set[Hashable] = set()
        self._ready = asyncio.Event()
        self._workers: list[asyncio.Task[None]] = []
        self._size = workers
        self._busy = 0
        self.failures = 0
        self.done = 0
        # Called with (seconds queued, seconds from sent to answered or failed) of each call made, when
        # set: a master slow to answer and a pool too small for the rate of calls look alike otherwise.
        self.observe: Callable[[float, float], None] | None = None

    def __len__(self) -> int:
        """Calls waiting or being made."""
        return len(self._queue) + len(self._first) + len(self._acks) + self._busy

    def waiting(self, key: Hashable) -> bool:
        """Whether a call under ``key`` is queued and not yet being made."""
        return key in self._keys

    def oldest_wait_s(self) -> float:
        """How long the call queued longest (not yet being made) has waited; 0 with none queued."""
        queued = [line[0][-1] for line in (self._first, self._queue, self._acks) if line]
        return self._clock() - min(queued) if queued else 0.0

    def spawn(self, call: Call, what: str, key: Hashable | None = None, *, first: bool = False) -> None:
        """Queue ``call()`` (made later by a worker; with ``first``, before every call queued
        without it); ``what`` names it in the log."""
        if key is not None:
            if key in self._keys:
                return
            self._keys.add(key)
        (self._first if first else self._queue).append((call, what, key, self._clock()))
        self._wake()

    def acknowledge(self, agent_id: str, task_id: str, uuid: str, state: str) -> None:
        """Queue the acknowledgement of an update (made by ``acknowledger``), once per update."""
        key = acknowledgement_key(task_id, uuid, state)
        if key in self._keys:
            return
        self._keys.add(key)
        self._acks.append((agent_id, task_id, uuid, key[3], self._clock()))
        self._wake()

    def _wake(self) -> None:
        """A call was queued: a worker takes it (the workers are started with the first call)."""
        self._ready.set()
        if not self._workers:
            self._workers = [asyncio.ensure_future(self._work()) for _ in range(self._size)]

    def _next(self) -> tuple[Call, str, Hashable | None, float]:
        """The next call to make: one queued first, else the oldest of the two lanes."""
        if self._first:
            return self._first.popleft()
        if self._acks and not (self._queue and self._queue[0][3] <= self._acks[0][4]):
            agent_id, task_id, uuid, state, queued_at = self._acks.popleft()
            call = partial(self._acknowledge, agent_id, task_id, uuid)
            return call, f"ACKNOWLEDGE {task_id}", acknowledgement_key(task_id, uuid, state), queued_at
        return self._queue.popleft()

    async def _acknowledge(self, agent_id: str, task_id: str, uuid: str) -> None:
        if self.acknowledger is None:
            raise RuntimeError("an acknowledgement was queued with no acknowledger set")
        await self.acknowledger(agent_id, task_id, uuid)

    async def _work(self) -> None:
        while True:
            if not self._first and not self._queue and not self._acks:
                self._ready.clear()
                await self._ready.wait()
                continue
            call, what, key, queued_at = self._next()
            if key is not None:
                self._keys.discard(key)
            self._busy += 1
            sent_at = self._clock()
            try:
                await call()
                self.done += 1
            except CallError as exc:
                self.failures += 1
                log.warning("%s: %s", what, exc)
            except asyncio.CancelledError:
                raise
            except Exception:
                self.failures += 1
                log.exception("%s failed", what)
            finally:
                self._busy -= 1
                if self.observe is not None:
                    self.observe(sent_at - queued_at, self._clock() - sent_at)

    async def drain(self, timeout_s: float) -> bool:
        """Wait for the queued calls (on shutdown), then stop the workers; False if some were left."""
        drained = True
        try:
            async with asyncio.timeout(timeout_s):
                while len(self):
                    await asyncio.sleep(0.02)
        except TimeoutError:
            drained = False
            log.warning("Stopping with %d calls to the master not made", len(self))
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []
        return drained
