"""Fixtures of the ZooKeeper tests (the server itself is the session fixture in tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture
def kazoo(zookeeper):
    """A plain kazoo client standing in for Mesos masters."""
    from kazoo.client import KazooClient

    client = KazooClient(hosts=f"127.0.0.1:{zookeeper.port}", timeout=10)
    client.start(timeout=15)
    try:
        yield client
    finally:
        client.stop()
        client.close()
