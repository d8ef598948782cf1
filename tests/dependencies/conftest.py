"""Fixtures for the dependency probes: fast settings, stand-ins that are always closed, a forwarder."""

from __future__ import annotations

import logging

import pytest

from scheduler.config import load_settings


@pytest.fixture
def base_settings(tmp_path):
    """Nothing configured but a SQLite database and the in-memory broker; short probe intervals."""
    settings = load_settings({})
    return settings.replace(
        database_url=f"sqlite:///{tmp_path}/scheduler.db",
        broker_url="memory://",
        probe_interval_s=0.2,
        probe_timeout_s=1.0,
    )


@pytest.fixture
async def started():
    """``await started(StandIn())`` starts a stand-in (or forwarder) and closes it after the test."""
    things = []

    async def start(thing):
        things.append(thing)
        return await thing.start()

    yield start
    for thing in reversed(things):
        await thing.close()


@pytest.fixture
def all_logs(caplog):
    """Every log record of the test, from every logger, at DEBUG and up."""
    caplog.set_level(logging.DEBUG)
    return caplog
