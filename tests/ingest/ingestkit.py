"""Helpers for the ingest tests: settings, queue depth, waiting, a TCP proxy that can cut a service off."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

import sqlalchemy
from kombu import Connection

from scheduler.config import Settings, load_settings
from scheduler.jobs.definitions import ErrorCategory, JobType
from scheduler.messaging.queue import command_queue
from scheduler.store.database import make_engine, migrate
from scheduler.store.job_type_rows import upsert_job_types
from scheduler.store.tables import job_table, queue_message_table

JOB_TYPES = [
    JobType(
        name="alpha", version="1.0", command="run-alpha", cpus=1.0, mem=256.0, error_mapping={2: ErrorCategory.DATA}
    ),
    JobType(name="beta", version="2.1", command="run-beta", cpus=0.5, mem=64.0, max_tries=1),
]


def make_settings(database_url: str, broker_url: str, queue: str, **extra: str) -> Settings:
    overrides = {
        "DATABASE_URL": database_url,
        "SCALE_BROKER_URL": broker_url,
        "SCALE_QUEUE_NAME": queue,
        "DATABASE_TIMEOUT": "3",
        **extra,
    }
    return load_settings({}, overrides=overrides)


def clean_postgres(url: str) -> None:
    """An empty public schema (the session's PostgreSQL database is shared by many tests)."""
    from scheduler.store.database import normalize_url

    engine = sqlalchemy.create_engine(normalize_url(url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        engine.dispose()


def prepare_database(database_url: str, job_types: list[JobType] = JOB_TYPES) -> list[JobType]:
    """Migrate and register job types; returns them with ids."""
    engine = make_engine(database_url)
    try:
        migrate(engine)
        with engine.begin() as connection:
            return upsert_job_types(connection, job_types)
    finally:
        engine.dispose()


def stored_jobs(database_url: str) -> list[dict]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sqlalchemy.select(job_table).order_by(job_table.c.id))
            return [dict(row._mapping) for row in rows]
    finally:
        engine.dispose()


def stored_message_ids(database_url: str) -> list[str]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return sorted(connection.execute(sqlalchemy.select(queue_message_table.c.id)).scalars())
    finally:
        engine.dispose()


def queue_state(broker_url: str, queue: str) -> tuple[int, int] | None:
    """(ready messages, consumers) of the queue by a passive declare; None if it does not exist."""
    with Connection(broker_url, connect_timeout=5) as connection:
        channel = connection.channel()
        try:
            _, count, consumers = command_queue(queue)(channel).queue_declare(passive=True)
            return count, consumers
        except connection.channel_errors:
            return None
        finally:
            with contextlib.suppress(Exception):
                channel.close()


def queue_depth(broker_url: str, queue: str) -> int | None:
    """Ready messages in the queue, or None if the queue does not exist."""
    state = queue_state(broker_url, queue)
    return None if state is None else state[0]


def delete_queue(broker_url: str, queue: str) -> None:
    with Connection(broker_url, connect_timeout=5) as connection:
        bound = command_queue(queue)(connection.channel())
        with contextlib.suppress(Exception):
            bound.delete()
        with contextlib.suppress(Exception):
            bound.exchange.delete()


def publish_raw(broker_url: str, queue: str, body: bytes | str, content_type: str = "application/json") -> None:
    """A message straight through kombu, bypassing the project's producer (for malformed bodies)."""
    declared = command_queue(queue)
    with Connection(broker_url, connect_timeout=5) as connection:
        connection.Producer().publish(
            body,
            exchange=declared.exchange,
            routing_key=declared.routing_key,
            declare=[declared],
            content_type=content_type,
            content_encoding="utf-8",
            delivery_mode=2,
        )


def wait_until(predicate: Callable[[], object], timeout: float = 15.0, interval: float = 0.05, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def with_port(url: str, port: int) -> str:
    """The URL pointed at 127.0.0.1:port, user and password kept."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{userinfo}127.0.0.1:{port}"))


class TcpProxy:
    """Forwards 127.0.0.1:port to a service; ``stop`` cuts every connection and refuses new ones.

    Stopped (the initial state) it listens on nothing, so a client gets "connection refused": the
    service is down as far as the client can tell, while the real service keeps serving others.
    """

    def __init__(self, target_host: str, target_port: int, port: int | None = None) -> None:
        self.target = (target_host, target_port)
        self.port = port or free_port()
        self._server: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            with self._lock:
                self._sockets.difference_update((source, sink))

    def stop(self) -> None:
        if self._server is not None:
            with contextlib.suppress(OSError):
                self._server.shutdown(socket.SHUT_RDWR)
            self._server.close()
            self._server = None
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
