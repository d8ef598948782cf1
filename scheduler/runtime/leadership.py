"""One leader per database: the scheduler holding a lock subscribes; the others stand by.

On PostgreSQL the lock is a session advisory lock held on a connection of its own, so it goes with
the session: if the leader dies, or its connection does, the lock is free and a standby takes over.
On SQLite (one host) it is an exclusive ``flock`` on a file beside the database. A standby serves the
leader's last status from the database, as the ``api`` command does.

Losing the lock while leading (the connection broke) means another instance may take over at any
moment: the leader stops at once rather than risk two schedulers launching the same work.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url

from scheduler.aio import wait_event
from scheduler.store.database import Database

log = logging.getLogger(__name__)

LOCK_KEY = 0x5CA1E5C4ED  # pg advisory lock key of the scheduler's leadership
RETRY_S = 5.0  # a standby tries for the lock this often
CHECK_S = 5.0  # a leader checks its lock connection this often


class Leadership:
    def __init__(self, database: Database) -> None:
        self.database = database
        self._connection: Connection | None = None  # PostgreSQL: the session that holds the lock
        self._file: int | None = None  # SQLite: the locked file

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
                got = await asyncio.wait_for(asyncio.to_thread(self._try_lock), self.database.timeout_s)
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
            await asyncio.sleep(CHECK_S)
            try:
                await asyncio.wait_for(asyncio.to_thread(self._check), self.database.timeout_s)
            except Exception as exc:
                log.error("The leader lock's database session failed (%s): another scheduler may take over", exc)
                lost.set()
                return

    def release(self) -> None:
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
