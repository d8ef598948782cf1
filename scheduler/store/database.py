"""The database handle: a SQLAlchemy engine, migrations on start, and blocking work run off the loop.

Every query is a plain synchronous function taking a Connection; ``Database.run`` executes it on a
small thread pool with a timeout, so a hung database slows nothing but the caller.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url

from scheduler.redact import mask_url
from scheduler.tls import database_tls

log = logging.getLogger(__name__)

T = TypeVar("T")
MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATION_LOCK_KEY = 0x5CA1E  # pg_advisory_lock key: several instances may start at once


def normalize_url(url: str) -> str:
    """``postgresql://`` means psycopg2 here, whatever SQLAlchemy's default driver is."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg2")
    return parsed.render_as_string(hide_password=False)


def make_engine(
    url: str,
    timeout_s: float = 10.0,
    *,
    sslmode: str | None = None,
    ca_file: str | None = None,
) -> Engine:
    """An engine with bounded waits; PostgreSQL with the TLS of DATABASE_SSLMODE / CA_FILE (scheduler.tls)."""
    tls = database_tls(url, sslmode, ca_file)
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": timeout_s, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")  # readers (the api command) never block the writer
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    milliseconds = int(timeout_s * 1000)
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        pool_timeout=timeout_s,
        connect_args={
            "connect_timeout": max(1, int(timeout_s)),
            "options": f"-c statement_timeout={milliseconds} -c lock_timeout={milliseconds}",
            "application_name": "scale-scheduler",
            # A server that vanishes mid-query is noticed by the client too, not only by the server.
            "keepalives": 1,
            "keepalives_idle": 10,
            "keepalives_interval": 5,
            "keepalives_count": 3,
            "tcp_user_timeout": milliseconds,
            **tls,
        },
    )


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (blocking)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def schema_revisions(engine: Engine) -> tuple[str | None, str]:
    """(the database's schema revision or None if unmigrated, the revision this version needs); reads only."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return current, head or ""


class Database:
    def __init__(
        self,
        url: str,
        timeout_s: float = 10.0,
        threads: int = 4,
        *,
        sslmode: str | None = None,
        ca_file: str | None = None,
    ) -> None:
        self.url = url
        self.display_url = mask_url(url)
        self.timeout_s = timeout_s
        self.engine = make_engine(url, timeout_s, sslmode=sslmode, ca_file=ca_file)
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="db")

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def run(self, work: Callable[[Connection], T], *, timeout_s: float | None = None) -> T:
        """Run ``work(connection)`` in one transaction on a database thread, with a timeout."""

        def in_transaction() -> T:
            with self.engine.begin() as connection:
                return work(connection)

        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, in_transaction)
        return await asyncio.wait_for(future, timeout_s or self.timeout_s)

    async def schema_revisions(self) -> tuple[str | None, str]:
        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(
            loop.run_in_executor(self._executor, schema_revisions, self.engine), self.timeout_s
        )

    async def migrate(self) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(loop.run_in_executor(self._executor, migrate, self.engine), self.timeout_s * 6)

    async def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        await asyncio.get_running_loop().run_in_executor(None, self.engine.dispose)
