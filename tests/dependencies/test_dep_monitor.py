"""The monitor as the engine uses it: concurrent probes, cached sections, hangs isolated, no secret leaks."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from urllib.parse import urlsplit

import pytest
from depkit import (
    BROKER_PASSWORD,
    DB_PASSWORD,
    ES_PASSWORD,
    TOKEN,
    EsStandIn,
    FluentdStandIn,
    Forwarder,
    GeoaxisStandIn,
    SiloStandIn,
    TcpSink,
    VaultStandIn,
    free_port,
)
from kombu import Connection

from scheduler.dependencies import PROBES, DependencyMonitor
from scheduler.messaging.command_queue import command_queue
from scheduler.store.database import Database
from scheduler.timefmt import parse_iso


@pytest.fixture
async def monitors():
    """``make(settings, database, **kwargs)``; every monitor is stopped and its database closed."""
    made = []

    def make(settings, database=None, **kwargs):
        database = database or Database(settings.database_url)
        kwargs.setdefault("num_message_handlers", lambda: 1)
        kwargs.setdefault("node_states", lambda: ["READY"] * 3)
        monitor = DependencyMonitor(settings, database, **kwargs)
        made.append((monitor, database))
        return monitor

    yield make
    for monitor, database in made:
        await monitor.stop()
        await database.close()


async def settled(monitor: DependencyMonitor, timeout_s: float = 8.0) -> dict:
    """The sections once every probe has finished at least one run."""
    deadline = time.monotonic() + timeout_s
    while set(monitor.results()) != set(PROBES):
        assert time.monotonic() < deadline, f"probes never finished: {set(PROBES) - set(monitor.results())}"
        await asyncio.sleep(0.05)
    return monitor.sections()


@pytest.fixture
async def services(started):
    """Every HTTP dependency up and healthy."""
    return {
        "es": await started(EsStandIn("green")),
        "vault": await started(VaultStandIn(TOKEN, "active")),
        "silo": await started(SiloStandIn()),
        "fluentd": await started(FluentdStandIn()),
        "sink": await started(TcpSink()),
        "geoaxis": await started(GeoaxisStandIn()),
    }


def configured(base_settings, services, **changes):
    values = {
        "elasticsearch_url": services["es"].url,
        "secrets_url": services["vault"].url,
        "secrets_token": TOKEN,
        "silo_url": services["silo"].url,
        "logging_health_address": services["fluentd"].url + "/api/plugins.json",
        "logging_address": services["sink"].address,
        "fluentd_buffer_warn": 10,
        "fluentd_buffer_size_warn": 100000000,
        "geoaxis_enabled": True,
        "scale_vhost": f"127.0.0.1:{services['geoaxis'].port}",
    }
    return base_settings.replace(**{**values, **changes})


@pytest.mark.integration
async def test_everything_configured_and_up_is_ok_with_scales_messages(
    base_settings, services, monitors, postgres_url, rabbitmq_url
):
    queue = f"test-monitor-{uuid.uuid4().hex[:10]}"
    settings = configured(base_settings, services, database_url=postgres_url, broker_url=rabbitmq_url, queue_name=queue)
    now = [1_700_000_000.25]
    monitor = monitors(
        settings,
        num_message_handlers=lambda: 3,
        node_states=lambda: ["READY"] * 4,
        clock=lambda: now[0],
        idam_scheme="http",
    )
    await monitor.start()
    document = await settled(monitor)
    dependencies = document["dependencies"]
    assert list(dependencies) == ["logs", "msg_queue", "database", "elasticsearch", "nodes", "idam", "silo"]
    for name, section in dependencies.items():
        assert section["OK"] is True, (name, section)
        assert section["errors"] == [] and section["warnings"] == [], (name, section)
    assert dependencies["database"]["detail"] == {"msg": "Database alive and well"}
    assert dependencies["logs"]["detail"]["msg"] == "Logs are healthy"
    assert dependencies["msg_queue"]["detail"] == {
        "msg": "Message Queue is healthy",
        "queue_name": queue,
        "num_message_handlers": 3,
        "queue_depth": 0,
        "region_name": "",
        "type": "amqp",
    }
    assert dependencies["elasticsearch"]["detail"]["msg"] == "Elasticsearch is healthy"
    assert dependencies["elasticsearch"]["detail"]["info"]["tagline"] == "You Know, for Search"
    assert dependencies["nodes"]["detail"] == {"msg": "Enough nodes are online to function."}
    assert dependencies["idam"]["detail"]["msg"] == "GEOAxIS is enabled"
    assert dependencies["silo"]["detail"]["msg"] == "Silo is alive and connected"
    assert document["vault"] == {"status": "Ok", "sealed": False, "message": ""}
    assert document["last_updated"] == "2023-11-14T22:13:20.250000Z"
    json.dumps(document)  # plain JSON: string keys only


async def test_before_any_run_every_probe_is_pending(base_settings, monitors):
    monitor = monitors(base_settings)
    document = monitor.sections()
    assert document["last_updated"] is None
    for name, section in document["dependencies"].items():
        assert section["OK"] is False
        assert "check pending" in section["detail"]["msg"], name
    assert document["vault"] == {"status": "Pending", "sealed": False, "message": "Vault check pending: no result yet."}


async def test_nothing_configured(base_settings, monitors):
    """Defaults: SQLite, memory broker, no ES, logs, Silo, GEOAxIS or Vault; no nodes yet."""
    monitor = monitors(base_settings, node_states=lambda: [])
    await monitor.start()
    document = await settled(monitor)
    deps = document["dependencies"]
    assert deps["database"]["OK"] is True
    assert deps["msg_queue"]["OK"] is True and deps["msg_queue"]["detail"]["type"] == "memory"
    assert deps["elasticsearch"]["errors"] == [{"UNKNOWN_ERROR": "ELASTICSEARCH_URL is not set."}]
    assert deps["logs"]["detail"] == {"msg": "LOGGING_ADDRESS is not defined"}
    assert deps["silo"] == {
        "OK": False,
        "detail": {"url": None},
        "errors": [{"NO_SILO_DEFINED": "No silo URL defined in environment. SOS."}],
        "warnings": [],
    }
    assert deps["idam"]["detail"] == {"geoaxis_enabled": False, "msg": "GEOAxIS is not enabled"}
    assert deps["nodes"]["errors"] == [{"NODES_OFFLINE": "No nodes reported."}]
    assert document["vault"] == {"status": "Secrets Not Configured", "sealed": False, "message": ""}
    parse_iso(document["last_updated"])


async def test_a_hanging_dependency_is_isolated(base_settings, services, monitors):
    services["es"].mode = "hang"
    services["silo"].mode = "hang"
    settings = configured(base_settings, services, probe_timeout_s=0.5, probe_interval_s=0.2)
    monitor = monitors(settings, idam_scheme="http", timeout_grace_s=0.3)
    began = time.monotonic()
    await monitor.start()
    assert time.monotonic() - began < 0.05  # start returns at once

    worst = 0.0
    nodes_times, es_seen_at = set(), None
    while time.monotonic() - began < 1.6:
        t0 = time.perf_counter()
        document = monitor.sections()
        worst = max(worst, time.perf_counter() - t0)
        results = monitor.results()
        if "nodes" in results:
            nodes_times.add(results["nodes"].taken_at)
        if es_seen_at is None and "elasticsearch" in results:
            es_seen_at = time.monotonic() - began
        assert sum(1 for t in threading.enumerate() if t.name == "probe-elasticsearch") <= 1
        await asyncio.sleep(0.01)

    assert worst < 0.02, f"sections() took {worst * 1000:.1f} ms"
    assert es_seen_at is not None and es_seen_at < 0.5 + 0.3 + 0.5
    es = document["dependencies"]["elasticsearch"]
    assert es["errors"] == [{"CLUSTER_ERROR": "Elasticsearch cluster is unreachable: timed out after 0.5 s."}]
    assert document["dependencies"]["silo"]["errors"] == [
        {"UNKNOWN_ERROR": "Error with SILO_URL: timed out after 0.5 s"}
    ]
    assert len(nodes_times) >= 5  # the others kept refreshing on their own cadence meanwhile
    assert document["dependencies"]["logs"]["OK"] is True
    assert document["vault"]["status"] == "Ok"

    began = time.monotonic()
    await monitor.stop()
    assert time.monotonic() - began < 2.0


async def test_stop_returns_promptly_while_probes_hang(base_settings, services, monitors):
    for name in ("es", "vault", "silo", "fluentd", "geoaxis"):
        services[name].mode = "hang"
    settings = configured(base_settings, services, probe_timeout_s=30)
    monitor = monitors(settings, idam_scheme="http")
    await monitor.start()
    await asyncio.sleep(0.3)
    began = time.monotonic()
    await monitor.stop()
    assert time.monotonic() - began < 2.0
    assert monitor.sections()["vault"]["status"] == "Pending"  # no result was invented


async def test_probe_failures_each_in_their_own_section(base_settings, services, monitors):
    services["es"].health = "red"
    services["vault"].state = "sealed"
    services["silo"].mode = "fail"
    services["fluentd"].queue_length = 50
    services["geoaxis"].login_status = 404
    settings = configured(base_settings, services)
    monitor = monitors(settings, idam_scheme="http", node_states=lambda: ["READY", "OFFLINE", "DEGRADED"])
    await monitor.start()
    deps = (await settled(monitor))["dependencies"]
    assert deps["elasticsearch"]["errors"][0]["CLUSTER_RED"].startswith("Elasticsearch cluster health is red")
    assert deps["silo"]["errors"] == [{"503": "Silo returned a status code of 503"}]
    assert deps["logs"]["OK"] is True
    assert deps["logs"]["warnings"] == [{"LARGE_BUFFER": "Length of log buffer is too long: 50 > 10"}]
    assert deps["idam"]["OK"] is False and "HTTP 404 Not Found" in deps["idam"]["errors"][0]["GEOAXIS_ERROR"]
    assert deps["nodes"]["errors"] == [{"NODES_ERRORED": "Over a third of the nodes are offline or degraded."}]
    assert deps["nodes"]["warnings"] == [
        {"NODES_OFFLINE": "1 nodes are offline"},
        {"NODES_DEGRADED": "1 nodes are degraded"},
    ]
    assert deps["database"]["OK"] is True and deps["msg_queue"]["OK"] is True
    assert monitor.sections()["vault"]["status"] == "Sealed"


async def test_sections_follow_changes_and_recover(base_settings, services, monitors):
    states = ["READY"] * 3
    settings = configured(base_settings, services)
    monitor = monitors(settings, idam_scheme="http", node_states=lambda: list(states))
    await monitor.start()
    await settled(monitor)
    services["vault"].state = "sealed"
    states[:] = []
    await asyncio.sleep(0.6)
    assert monitor.sections()["vault"]["status"] == "Sealed"
    assert monitor.sections()["dependencies"]["nodes"]["detail"]["msg"] == "No nodes reported"
    services["vault"].state = "active"
    states[:] = ["READY"]
    await asyncio.sleep(0.6)
    assert monitor.sections()["vault"]["status"] == "Ok"
    assert monitor.sections()["dependencies"]["nodes"]["OK"] is True


async def test_a_probe_that_raises_is_reported_not_propagated(base_settings, monitors, all_logs):
    def broken_nodes():
        raise RuntimeError("node model exploded")

    def broken_handlers():
        raise RuntimeError("no handler count")

    monitor = monitors(base_settings, node_states=broken_nodes, num_message_handlers=broken_handlers)
    await monitor.start()
    deps = (await settled(monitor))["dependencies"]
    assert deps["nodes"] == {
        "OK": False,
        "detail": {"msg": "Unable to read the nodes"},
        "errors": [{"UNKNOWN_ERROR": "Error reading the nodes: node model exploded"}],
        "warnings": [],
    }
    assert deps["msg_queue"]["OK"] is True and deps["msg_queue"]["detail"]["num_message_handlers"] == 0


def test_unknown_overrides_are_refused(base_settings):
    with pytest.raises(TypeError, match="idam_shceme"):
        DependencyMonitor(
            base_settings, None, num_message_handlers=lambda: 1, node_states=lambda: [], idam_shceme="http"
        )
    with pytest.raises(TypeError, match="vaults"):
        DependencyMonitor(
            base_settings, None, num_message_handlers=lambda: 1, node_states=lambda: [], intervals={"vaults": 1}
        )


async def test_per_probe_intervals(base_settings, monitors):
    calls = []

    def node_states():
        calls.append(time.monotonic())
        return ["READY"]

    settings = base_settings.replace(probe_interval_s=60)
    monitor = monitors(settings, node_states=node_states, intervals={"nodes": 0.05})
    await monitor.start()
    await asyncio.sleep(0.1)
    first_database_run = monitor.results()["database"].taken_at
    await asyncio.sleep(0.4)
    assert len(calls) >= 5
    assert monitor.results()["database"].taken_at == first_database_run  # 60 s cadence: ran once only
    await monitor.stop()


@pytest.mark.integration
async def test_no_secret_anywhere(base_settings, services, monitors, started, postgres_url, rabbitmq_url, all_logs):
    """Token, broker, database and Elasticsearch passwords: never in a section nor a log line."""
    services["vault"].token = "another-token"  # ours is refused: 403
    db_parts, mq_parts = urlsplit(postgres_url), urlsplit(rabbitmq_url)
    db_forwarder = await started(Forwarder(db_parts.hostname, db_parts.port))
    mq_forwarder = await started(Forwarder(mq_parts.hostname, mq_parts.port))
    database_url = f"postgresql://postgres:{DB_PASSWORD}@127.0.0.1:{db_forwarder.port}{db_parts.path}"
    broker_url = f"amqp://scale:{BROKER_PASSWORD}@127.0.0.1:{mq_forwarder.port}//"
    es_url = f"http://elastic:{ES_PASSWORD}@127.0.0.1:{free_port()}"
    settings = configured(
        base_settings, services, database_url=database_url, broker_url=broker_url, elasticsearch_url=es_url
    )
    assert {TOKEN, DB_PASSWORD, BROKER_PASSWORD, ES_PASSWORD} <= set(settings.secret_values())
    monitor = monitors(settings, idam_scheme="http")

    documents = []
    for mode in ("forward", "cut", "blackhole"):
        if mode == "cut":
            await db_forwarder.cut()
            await mq_forwarder.cut()
        if mode == "blackhole":
            await db_forwarder.blackhole()
            await mq_forwarder.blackhole()
        for name in PROBES:
            await monitor.run_once(name)
        documents.append(monitor.sections())
    assert documents[0]["vault"]["status"] == "Invalid Credentials"
    assert documents[0]["dependencies"]["msg_queue"]["errors"][0]["RABBITMQ_ERROR"].endswith(
        "access refused (check the broker user and password)"
    )
    assert documents[1]["dependencies"]["database"]["errors"] == [
        {"OPERATIONAL_ERROR": "Database unavailable: connection refused."}
    ]
    assert documents[2]["dependencies"]["msg_queue"]["errors"][0]["RABBITMQ_ERROR"].startswith(
        "Error connecting to RabbitMQ: timed out"
    )
    assert documents[0]["dependencies"]["elasticsearch"]["detail"]["url"].startswith("http://elastic:****@")
    everything = json.dumps(documents) + all_logs.text
    for secret in (TOKEN, DB_PASSWORD, BROKER_PASSWORD, ES_PASSWORD):
        assert secret not in everything
    assert "WARNING" in all_logs.text  # the failures were logged, masked


async def test_memory_broker_depth_through_the_monitor(base_settings, monitors):
    name = f"test-monitor-{uuid.uuid4().hex[:10]}"
    queue = command_queue(name)
    with Connection("memory://") as connection:
        producer = connection.Producer()
        for i in range(7):
            producer.publish({"n": i}, exchange=queue.exchange, routing_key=name, declare=[queue])
    settings = base_settings.replace(queue_name=name, queue_depth_warn=5)
    monitor = monitors(settings)
    result = await monitor.run_once("msg_queue")
    assert result.section["detail"]["queue_depth"] == 7
    assert result.section["warnings"] == [{"LARGE_QUEUE": "Message queue is very large"}]
