"""Prometheus metrics, liveness and readiness, from a core in memory."""

from __future__ import annotations

import time

import pytest
from aiohttp.test_utils import TestClient, TestServer

from scheduler.api.app import create_app
from scheduler.api.health import HealthSources
from scheduler.core.apply import apply
from scheduler.core.events import OffersReceived, Subscribed
from scheduler.core.state import CoreState
from scheduler.offers.offer import Offer, Resource
from scheduler.status.core_view import view_of


@pytest.fixture
def state():
    core = CoreState(hostname="h", now=time.time())
    apply(core, Subscribed("F", 15.0), time.time())
    apply(core, OffersReceived((Offer("O1", "S1", "host-1", (Resource("cpus", "SCALAR", scalar=2.0),)),)), time.time())
    return {
        "view": view_of(core, time.time()),  # the metrics read the published view, never the core
        "snapshot": time.time(),
        "subscribed": True,
        "db_error": None,
        "deps": {"database": {"OK": True}, "silo": {"OK": False}},
    }


@pytest.fixture
async def client(state):
    sources = HealthSources(
        view=lambda: state["view"],
        snapshot_time=lambda: state["snapshot"],
        subscribed=lambda: state["subscribed"],
        database_error=lambda: state["db_error"],
        dependencies=lambda: state["deps"],
        freshness_s=12.0,
    )
    client = TestClient(TestServer(create_app(health=sources)))
    await client.start_server()
    yield client
    await client.close()


async def test_metrics_are_prometheus_text(client):
    resp = await client.get("/metrics")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    text = await resp.text()
    assert "# TYPE scale_scheduler_new_offers_total counter" in text
    assert "scale_scheduler_new_offers_total 1.0" in text
    assert 'scale_scheduler_nodes{state="INITIAL_CLEANUP"} 1.0' in text
    assert "scale_scheduler_offers_held 1.0" in text
    assert "scale_scheduler_launches_in_flight 0.0" in text
    assert "scale_scheduler_launches_in_flight_limit 1500.0" in text
    assert "scale_scheduler_launches_held 0.0" in text
    assert 'scale_scheduler_dependency_ok{dependency="silo"} 0.0' in text
    assert "# TYPE scale_scheduler_messages_rejected_total counter" in text
    assert "# TYPE scale_scheduler_messages_dead_lettered_total counter" in text


async def test_launches_held_shows_while_new_launches_wait(client, state):
    """What an operator (and bench-scale) reads to tell a scheduler waiting on its records or on
    acknowledgements from one without work."""
    core = CoreState(hostname="h", now=time.time())
    apply(core, Subscribed("F", 15.0), time.time())
    core.hold_launches = True  # what a cycle with launches held leaves
    state["view"] = view_of(core, time.time())
    text = await (await client.get("/metrics")).text()
    assert "scale_scheduler_launches_held 1.0" in text


async def test_liveness_ignores_dependencies_but_not_a_wedged_loop(client, state):
    state["db_error"] = "down"
    state["subscribed"] = False
    assert (await client.get("/livez")).status == 200
    state["snapshot"] = time.time() - 60
    resp = await client.get("/livez")
    assert resp.status == 503
    assert "60 s old" in (await resp.json())["detail"]


async def test_readiness_needs_mesos_and_the_database(client, state):
    assert (await client.get("/readyz")).status == 200
    state["subscribed"] = False
    state["db_error"] = "database writes failing: refused"
    resp = await client.get("/readyz")
    assert resp.status == 503
    detail = (await resp.json())["detail"]
    assert "not subscribed" in detail and "database writes failing" in detail
