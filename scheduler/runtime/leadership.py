"""One leader per database: the scheduler holding a lock subscribes; the others stand by.

On PostgreSQL the lock is a session advisory lock held on a connection of its own, so it goes with
the session: if the leader dies, or its connection does, the lock is free and a standby takes over.
On SQLite (one host) it is an exclusive ``flock`` on a file beside the database. A standby serves the
leader's last status from the database, as the ``api`` command does.

When the lock's session drops while leading (a database restart, a network blip), the leader tries
to take the lock again on a new session, a few times over some seconds. Whoever holds the lock
leads, so getting it back is safe: no other instance can have started leading meanwhile. If it
cannot (another instance took it, or the database stays away), it stops at once rather than risk
two schedulers launching the same work.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url

from scheduler.aio import wait_event
from scheduler.store.database import Database

log = logging.getLogger(__name__)

T = TypeVar("T")

LOCK_KEY = 0x5CA1E5C4ED  # pg advisory lock key of the scheduler's leadership
RETRY_S = 5.0  # a standby tries for the lock this often
CHECK_S = 5.0  # a leader checks its lock connection this often
RETAKE_TRIES = 4  # tries to take the lock again after its session dropped...
RETAKE_DELAY_S = 1.5  # ...this far apart (a standby tries every RETRY_S)


class Leadership:
    def __init__(
        self,
        database: Database,
        *,
        check_s: float = CHECK_S,
        retake_tries: int = RETAKE_TRIES,
        retake_delay_s: float = RETAKE_DELAY_S,
    ) -> None:
        self.database = database
        self.check_s = check_s
        self.retake_tries = retake_tries
        self.retake_delay_s = retake_delay_s
        self.retaken = 0  # times the lock was taken again after its session dropped
        self._connection: Connection | None = None  # PostgreSQL: the session that holds the lock
        self._file: int | None = None  # SQLite: the locked file
        # The lock session's calls run on threads of their own, never the loop's default executor:
        # a call stuck on a hung database must not hold the loop (closing a connection waits for the
        # query running on it) nor the process's exit (asyncio.run joins the default executor).
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="leader-lock")

    async def _call(self, work: Callable[[], T]) -> T:
        """``work`` on the lock's threads, given up after the database timeout."""
        future = asyncio.get_running_loop().run_in_executor(self._executor, work)
        return await asyncio.wait_for(future, self.database.timeout_s)

    # --- taking the lock ---

    def _try_lock(self) -> bool:
        if self.database.dialect == "postgresql":
            connection = self.database.engine.connect()
            try:
                got = bool(connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": LOCK_KEY}).scalar())
                connection.commit()
            except Exception:
                connection.close()
                raise
            if got:
                self._connection = connection
            else:
                connection.close()
            return got
        path = make_url(self.database.url).database
        lock_path = Path(f"{path}.leader.lock") if path and path != ":memory:" else None
        if lock_path is None:
            return True  # an in-memory database has one user by construction
        descriptor = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            return False
        self._file = descriptor
        return True

    async def acquire(self, stop: asyncio.Event) -> bool:
        """Wait until this instance leads; False if stopped first."""
        waiting_logged = False
        while not stop.is_set():
            try:
                got = await self._call(self._try_lock)
            except Exception as exc:
                log.error("Cannot take the leader lock (%s); retrying in %.0f s", exc, RETRY_S)
                got = False
            if got:
                log.info("This scheduler is the leader")
                return True
            if not waiting_logged:
                log.warning("Another scheduler leads; standing by and serving its status from the database")
                waiting_logged = True
            await wait_event(stop, RETRY_S)
        return False

    # --- keeping it ---

    def _check(self) -> None:
        if self._connection is not None:
            self._connection.execute(text("SELECT 1")).scalar()
            self._connection.commit()

    async def watch(self, lost: asyncio.Event) -> None:
        """Set ``lost`` if the lock's session breaks (checked every few seconds)."""
        if self._connection is None:
            await asyncio.Future()  # a file lock lasts as long as the process: nothing to watch
        while True:
            await asyncio.sleep(self.check_s)
            try:
                await self._call(self._check)
                continue
            except Exception as exc:
                log.warning("The leader lock's database session failed (%s); taking the lock again", exc)
            if await self._retake():
                self.retaken += 1
                log.warning("Took the leader lock again on a new session; still the leader")
                continue
            log.error("Could not take the leader lock again: another scheduler may take over; stopping")
            lost.set()
            return

    def _drop_session(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.invalidate()  # never back into the pool; its session (and lock) must end
                connection.close()
            except Exception as exc:
                log.debug("Dropping the broken leader lock session: %s", exc)

    async def _retake(self) -> bool:
        """Take the lock on a new session, a few times; False if another instance has it or the database stays away."""
        try:
            await self._call(self._drop_session)
        except TimeoutError:
            log.warning("Dropping the broken leader lock session timed out; taking the lock on a new one")
        for attempt in range(1, self.retake_tries + 1):
            try:
                if await self._call(self._try_lock):
                    return True
                why = "it is held (by another scheduler, or by the old session until the server ends it)"
            except Exception as exc:
                why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            log.warning("Taking the leader lock again, try %d of %d: %s", attempt, self.retake_tries, why)
            if attempt < self.retake_tries:
                await asyncio.sleep(self.retake_delay_s)
        return False

    async def release(self) -> None:
        """Let the lock go; if its session hangs with the database, it ends with the process."""
        try:
            await self._call(self._release)
        except TimeoutError:
            log.warning("Closing the leader lock session timed out (the database hangs); it ends with the process")
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _release(self) -> None:
        if self._connection is not None:
            try:
                # Invalidated, not returned to the pool: the session must end for the lock to go.
                self._connection.invalidate()
                self._connection.close()
            except Exception as exc:
                log.debug("Closing the leader lock session: %s", exc)
            self._connection = None
        if self._file is not None:
            os.close(self._file)
            self._file = None
