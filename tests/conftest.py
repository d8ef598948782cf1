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
