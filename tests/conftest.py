"""Shared fixtures: the real PostgreSQL and RabbitMQ of this machine, SQLite in a temp dir.

With REQUIRE_SERVICES=1 (set by .ci/run) a missing PostgreSQL or RabbitMQ fails the run instead of
skipping the tests that need it.
"""

from __future__ import annotations

import os
import socket
import uuid
from urllib.parse import urlsplit

import pytest

POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def _reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=2):
            return True
    except OSError:
        return False


def _missing(service: str, url: str) -> None:
    message = f"{service} is not reachable at {urlsplit(url).hostname}:{urlsplit(url).port}"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} and REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_url():
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    if not _reachable(POSTGRES_ADMIN_URL):
        _missing("PostgreSQL", POSTGRES_ADMIN_URL)
    import sqlalchemy

    name = f"scale_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    from scheduler.store.database import normalize_url

    admin = sqlalchemy.create_engine(normalize_url(POSTGRES_ADMIN_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="session")
def rabbitmq_url():
    if not _reachable(RABBITMQ_URL):
        _missing("RabbitMQ", RABBITMQ_URL)
    return RABBITMQ_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """Each test that takes this runs once on SQLite and once on the real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/scheduler.db"
    url = request.getfixturevalue("postgres_url")
    # A clean schema per test: drop what an earlier test left.
    import sqlalchemy

    from scheduler.store.database import normalize_url

    engine = sqlalchemy.create_engine(normalize_url(url), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    engine.dispose()
    return url


# --- ZooKeeper (Debian's `zookeeper` package; .ci/run installs it) ---

ZOOKEEPER_JAR = os.environ.get("TEST_ZOOKEEPER_JAR", "/usr/share/java/zookeeper.jar")


class ZooKeeperServer:
    """A standalone ZooKeeper from the package's jar on a free port, with its own data dir."""

    def __init__(self, data_dir) -> None:
        self.data_dir = str(data_dir)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process = None

    def url(self, path: str = "/mesos", credentials: str = "") -> str:
        return f"zk://{credentials}127.0.0.1:{self.port}{path}"

    def start(self, timeout_s: float = 30.0) -> None:
        import subprocess
        import time

        command = [
            "java",
            "-Xmx128m",
            "-Dzookeeper.admin.enableServer=false",  # its admin server would take port 8080
            "-Dzookeeper.4lw.commands.whitelist=srvr",
            "-cp",
            ZOOKEEPER_JAR,
            "org.apache.zookeeper.server.ZooKeeperServerMain",
            str(self.port),
            self.data_dir,
        ]
        log = open(os.path.join(self.data_dir, "server.log"), "ab")  # noqa: SIM115 - the process keeps it
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"ZooKeeper exited with {self.process.returncode}; see {self.data_dir}/server.log")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                    conn.sendall(b"srvr")
                    if b"Mode" in conn.recv(4096):
                        return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"ZooKeeper did not serve on port {self.port} within {timeout_s} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except Exception:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None


def zookeeper_server(data_dir) -> ZooKeeperServer:
    """A started server, or a skip (a failure with REQUIRE_SERVICES=1) when the package is missing."""
    import shutil

    if not os.path.exists(ZOOKEEPER_JAR) or shutil.which("java") is None:
        message = f"ZooKeeper is not installed ({ZOOKEEPER_JAR} or java missing; apt-get install zookeeper)"
        if REQUIRE_SERVICES:
            pytest.fail(f"{message} and REQUIRE_SERVICES=1", pytrace=False)
        pytest.skip(message)
    server = ZooKeeperServer(data_dir)
    server.start()
    return server


@pytest.fixture(scope="session")
def zookeeper(tmp_path_factory):
    """One ZooKeeper for the session; tests use their own znode paths."""
    server = zookeeper_server(tmp_path_factory.mktemp("zookeeper"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def own_zookeeper(tmp_path):
    """A ZooKeeper of this test alone, for tests that stop and restart it."""
    data_dir = tmp_path / "zookeeper"
    data_dir.mkdir()
    server = zookeeper_server(data_dir)
    try:
        yield server
    finally:
        server.stop()
