"""The dependencies and vault sections of a running scheduler: everything configured (the real
PostgreSQL and RabbitMQ, stand-ins for Elasticsearch, Vault, Silo, fluentd and GEOAxIS), then a
dependency that hangs, while the status stays fresh and no secret shows anywhere."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid

import aiohttp
import pytest
from depkit import EsStandIn, FluentdStandIn, GeoaxisStandIn, SiloStandIn, TcpSink, VaultStandIn

from scheduler.config import load_settings
from scheduler.daemon import run_daemon
from scheduler.sim import SimConfig, serve_sim
from scheduler.timefmt import parse_iso

VAULT_TOKEN = "s.e2e-vault-token-6f1c"
DB_PASSWORD = "pg-e2e-password-93ad"

HEALTHY = {
    "logs": "Logs are healthy",
    "msg_queue": "Message Queue is healthy",
    "database": "Database alive and well",
    "elasticsearch": "Elasticsearch is healthy",
    "nodes": "Enough nodes are online to function.",
    "idam": "GEOAxIS is enabled",
    "silo": "Silo is alive and connected",
}


@pytest.mark.integration
async def test_all_dependencies_ok_then_one_hangs_and_nothing_leaks(postgres_url, rabbitmq_url, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    stand_ins = [EsStandIn(), VaultStandIn(VAULT_TOKEN), SiloStandIn(), FluentdStandIn(), GeoaxisStandIn()]
    es, vault, silo, fluentd, geoaxis = [await s.start() for s in stand_ins]
    sink = await TcpSink().start()
    sim = await serve_sim(SimConfig(agents=2, allocation_interval_s=0.2, task_duration_s=0.5), "127.0.0.1", 0)
    # Trust authentication ignores the password, so a URL can carry one that must never be shown.
    database_url = postgres_url.replace("postgresql://postgres@", f"postgresql://postgres:{DB_PASSWORD}@")
    settings = load_settings(
        {},
        overrides={
            "MESOS_MASTER_URL": sim.url,
            "DATABASE_URL": database_url,
            "SCALE_BROKER_URL": rabbitmq_url,
            "SCALE_QUEUE_NAME": f"e2e-{uuid.uuid4().hex[:8]}",
            "ELASTICSEARCH_URL": es.url,
            "LOGGING_ADDRESS": sink.address,
            "LOGGING_HEALTH_ADDRESS": fluentd.url + "/api/plugins.json",
            "SILO_URL": silo.url,
            "GEOAXIS_ENABLED": "true",
            "SCALE_VHOST": f"127.0.0.1:{geoaxis.port}",
            "SECRETS_URL": vault.url,
            "SECRETS_TOKEN": VAULT_TOKEN,
            "PROBE_INTERVAL": "0.5",
            "PROBE_TIMEOUT": "1",
            "PORT0": "0",
            "SCALE_API_HOST": "127.0.0.1",
        },
    )
    stop = asyncio.Event()
    started = asyncio.get_running_loop().create_future()
    daemon_task = asyncio.create_task(
        run_daemon(settings, stop=stop, on_started=started.set_result, dependency_overrides={"idam_scheme": "http"})
    )
    bodies: list[bytes] = []
    try:
        daemon = await asyncio.wait_for(started, 15)
        async with aiohttp.ClientSession(base_url=daemon.api_url) as http:

            async def status() -> dict:
                async with http.get("/v6/status/") as resp:
                    assert resp.status == 200
                    body = await resp.read()
                    bodies.append(body)
                    document = await resp.json()
                    assert time.time() - parse_iso(document["timestamp"]) <= 2.0, "the status went stale"
                    return document

            async def until(predicate, timeout=20.0) -> dict:
                deadline = time.monotonic() + timeout
                while True:
                    with contextlib.suppress(AssertionError):
                        document = await status()
                        if predicate(document):
                            return document
                    assert time.monotonic() < deadline, "never reached"
                    await asyncio.sleep(0.2)

            def all_ok(document):
                sections = document.get("dependencies", {})
                return set(sections) == set(HEALTHY) and all(s["OK"] for s in sections.values())

            document = await until(all_ok)
            for name, message in HEALTHY.items():
                section = document["dependencies"][name]
                assert section["detail"]["msg"] == message, (name, section)
                assert section["errors"] == [] and section["warnings"] == [], (name, section)
            assert document["vault"] == {"status": "Ok", "sealed": False, "message": ""}
            assert document["dependencies"]["msg_queue"]["detail"]["type"] == "amqp"
            assert document["dependencies"]["elasticsearch"]["detail"]["info"]["tagline"] == "You Know, for Search"
            assert document["last_updated"].endswith("Z")

            # Elasticsearch accepts connections and never answers: its section says so within
            # about the probe timeout, the others stay OK, and every status stays fresh.
            es.mode = "hang"
            hung = await until(lambda d: not d["dependencies"]["elasticsearch"]["OK"], timeout=6)
            (error,) = hung["dependencies"]["elasticsearch"]["errors"]
            assert list(error) == ["CLUSTER_ERROR"] and "timed out" in error["CLUSTER_ERROR"]
            assert all(s["OK"] for n, s in hung["dependencies"].items() if n != "elasticsearch")
            for _ in range(15):  # three more seconds of fresh snapshots while it hangs
                await status()
                await asyncio.sleep(0.2)
            vault.mode = "hang"
            sealed_or_gone = await until(lambda d: d["vault"]["status"] != "Ok", timeout=6)
            assert sealed_or_gone["vault"]["status"] == "Secrets Unavailable"
            es.mode = "ok"
            vault.mode = "ok"
            await until(lambda d: d["dependencies"]["elasticsearch"]["OK"] and d["vault"]["status"] == "Ok", 10)
    finally:
        stop.set()
        await asyncio.wait_for(daemon_task, 15)
        await sim.close()
        await sink.close()
        for stand_in in stand_ins:
            await stand_in.close()
    text = "\n".join(record.getMessage() + (record.exc_text or "") for record in caplog.records)
    for secret in (VAULT_TOKEN, DB_PASSWORD):
        assert all(secret.encode() not in body for body in bodies), f"{secret} shown in the status"
        assert secret not in text, f"{secret} written to the log"
    assert len(bodies) > 20
