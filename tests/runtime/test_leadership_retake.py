"""The leader's lock session drops: it takes the lock again and keeps leading, unless another
scheduler took it first (then it stops)."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy

from scheduler.runtime.leadership import LOCK_KEY, Leadership
from scheduler.store.database import Database, normalize_url

pytestmark = pytest.mark.integration


def terminate(url: str, pid: int) -> None:
    engine = sqlalchemy.create_engine(normalize_url(url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            assert connection.execute(sqlalchemy.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    finally:
        engine.dispose()


def lock_is_free(url: str) -> bool:
    engine = sqlalchemy.create_engine(normalize_url(url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            got = connection.execute(sqlalchemy.text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar()
            if got:
                connection.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
            return bool(got)
    finally:
        engine.dispose()


def backend_pid(leadership: Leadership) -> int:
    return leadership._connection.execute(sqlalchemy.text("SELECT pg_backend_pid()")).scalar()


async def test_a_dropped_lock_session_is_taken_again(postgres_url):
    database = Database(postgres_url, timeout_s=3)
    leader = Leadership(database, check_s=0.2, retake_tries=5, retake_delay_s=0.2)
    lost = asyncio.Event()
    assert await leader.acquire(asyncio.Event())
    watcher = asyncio.create_task(leader.watch(lost))
    try:
        old_pid = await asyncio.to_thread(backend_pid, leader)
        await asyncio.to_thread(terminate, postgres_url, old_pid)
        async with asyncio.timeout(10):
            while leader.retaken == 0 and not lost.is_set():
                await asyncio.sleep(0.05)
        assert not lost.is_set() and leader.retaken == 1
        assert await asyncio.to_thread(backend_pid, leader) != old_pid
        assert not await asyncio.to_thread(lock_is_free, postgres_url)  # held, by the leader's new session
    finally:
        watcher.cancel()
        await leader.release()
        await database.close()


async def test_the_leader_stops_if_a_standby_took_the_lock_first(postgres_url):
    database = Database(postgres_url, timeout_s=3)
    standby_database = Database(postgres_url, timeout_s=3)
    leader = Leadership(database, check_s=1.0, retake_tries=2, retake_delay_s=0.2)
    standby = Leadership(standby_database)
    lost = asyncio.Event()
    assert await leader.acquire(asyncio.Event())
    watcher = asyncio.create_task(leader.watch(lost))
    try:
        await asyncio.to_thread(terminate, postgres_url, await asyncio.to_thread(backend_pid, leader))
        async with asyncio.timeout(5):  # the standby, trying often, gets it before the leader notices
            while not await asyncio.to_thread(standby._try_lock):
                await asyncio.sleep(0.02)
        async with asyncio.timeout(10):
            await lost.wait()
        assert leader.retaken == 0
    finally:
        watcher.cancel()
        await leader.release()
        await standby.release()
        await database.close()
        await standby_database.close()
