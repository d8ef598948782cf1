"""Elasticsearch, Vault, Silo, fluentd and GEOAxIS probes against stand-ins that answer like the real services."""

from __future__ import annotations

import time

import aiohttp
import pytest
from depkit import (
    ES_PASSWORD,
    TOKEN,
    EsStandIn,
    FluentdStandIn,
    GeoaxisStandIn,
    SiloStandIn,
    TcpSink,
    VaultStandIn,
    free_port,
)

from scheduler.config import load_settings
from scheduler.dependencies import elastic_probe as elastic
from scheduler.dependencies import idam_probe as idam
from scheduler.dependencies import logs_probe as logs
from scheduler.dependencies import silo_probe as silo
from scheduler.dependencies import vault_probe as vault
from scheduler.dependencies.common import ThreadSlot

TIMEOUT = 0.5


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as session:
        yield session


def refused_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


# --- elasticsearch -------------------------------------------------------------------------------------


async def es_probe(url):
    return await elastic.probe_elasticsearch(url, ThreadSlot("es"), TIMEOUT)


async def test_elasticsearch_green_reports_info(started):
    es = await started(EsStandIn("green"))
    section = await es_probe(es.url)
    assert section == {
        "OK": True,
        "detail": {"url": es.url, "msg": "Elasticsearch is healthy", "info": EsStandIn.INFO},
        "errors": [],
        "warnings": [],
    }


@pytest.mark.parametrize(
    "colour,key,message",
    [
        ("red", "CLUSTER_RED", "Elasticsearch cluster health is red. A primary shard is not allocated."),
        ("yellow", "CLUSTER_YELLOW", "Elasticsearch cluster health is yellow. A replica shard is not allocated."),
    ],
)
async def test_elasticsearch_red_and_yellow_are_errors(started, colour, key, message):
    es = await started(EsStandIn(colour))
    section = await es_probe(es.url)
    assert section["OK"] is False
    assert section["errors"] == [{key: message}]
    assert "info" not in section["detail"]


async def test_elasticsearch_not_configured():
    assert await es_probe(None) == elastic.not_set()


async def test_elasticsearch_refused():
    section = await es_probe(refused_url())
    assert section["detail"]["msg"] == "Unable to connect to elasticsearch"
    assert section["errors"] == [{"CLUSTER_ERROR": "Elasticsearch cluster is unreachable: connection refused."}]


async def test_elasticsearch_5xx(started):
    es = await started(EsStandIn())
    es.mode = "fail"
    section = await es_probe(es.url)
    assert section["errors"] == [{"CLUSTER_ERROR": "Elasticsearch cluster is unreachable: HTTP 503."}]


async def test_elasticsearch_health_error_after_info(started):
    es = await started(EsStandIn())
    es.health_error = 503
    section = await es_probe(es.url)
    assert section["OK"] is False
    assert section["errors"] == [{"CLUSTER_ERROR": "Elasticsearch cluster is unreachable: HTTP 503."}]


async def test_elasticsearch_server_that_is_not_elasticsearch(started):
    es = await started(EsStandIn())
    es.product_header = False
    section = await es_probe(es.url)
    assert section["errors"] == [
        {"CLUSTER_ERROR": "Elasticsearch cluster is unreachable: the server does not identify itself as Elasticsearch."}
    ]


async def test_elasticsearch_hang_times_out_at_the_client(started):
    es = await started(EsStandIn())
    es.mode = "hang"
    begun = time.monotonic()
    section = await es_probe(es.url)
    assert time.monotonic() - begun < TIMEOUT + 1.0
    assert section["errors"] == [{"CLUSTER_ERROR": "Elasticsearch cluster is unreachable: timed out after 0.5 s."}]


async def test_elasticsearch_password_in_url_is_sent_but_never_shown(started, all_logs):
    es = await started(EsStandIn())
    url = f"http://elastic:{ES_PASSWORD}@127.0.0.1:{es.port}"
    section = await elastic.probe_elasticsearch(url, ThreadSlot("es"), TIMEOUT, secrets=[ES_PASSWORD])
    assert section["OK"] is True
    assert es.headers_seen[0]["Authorization"].startswith("Basic ")
    assert section["detail"]["url"] == f"http://elastic:****@127.0.0.1:{es.port}"
    assert ES_PASSWORD not in repr(section)
    es.mode = "fail"
    failed = await elastic.probe_elasticsearch(url, ThreadSlot("es"), TIMEOUT, secrets=[ES_PASSWORD])
    assert ES_PASSWORD not in repr(failed) + all_logs.text


# --- vault -----------------------------------------------------------------------------------------------


async def vault_probe(url, token=TOKEN):
    return await vault.probe_vault(url, token, ThreadSlot("vault"), TIMEOUT, secrets=[TOKEN])


@pytest.mark.parametrize("state", ["active", "standby", "perf_standby"])
async def test_vault_serving_with_a_good_token_is_ok(started, state):
    stand_in = await started(VaultStandIn(TOKEN, state))
    assert await vault_probe(stand_in.url) == {"status": "Ok", "sealed": False, "message": ""}
    assert stand_in.headers_seen[-1]["X-Vault-Token"] == TOKEN  # the token was checked for real


async def test_vault_not_configured():
    assert await vault_probe(None) == {"status": "Secrets Not Configured", "sealed": False, "message": ""}


async def test_vault_sealed(started):
    stand_in = await started(VaultStandIn(TOKEN, "sealed"))
    assert await vault_probe(stand_in.url) == {
        "status": "Sealed",
        "sealed": True,
        "message": "Status Code 503 - Secrets store is down for maintenance or is currently sealed.",
    }


async def test_vault_uninitialised(started):
    stand_in = await started(VaultStandIn(TOKEN, "uninit"))
    assert await vault_probe(stand_in.url) == {
        "status": "Not Initialized",
        "sealed": True,
        "message": "Vault is not initialized (HTTP 501).",
    }


async def test_vault_dr_secondary(started):
    stand_in = await started(VaultStandIn(TOKEN, "dr_secondary"))
    section = await vault_probe(stand_in.url)
    assert section["status"] == "Secrets Unavailable"
    assert "472" in section["message"]


async def test_vault_bad_token_is_invalid_credentials(started, all_logs):
    stand_in = await started(VaultStandIn("the-right-token", "active"))
    section = await vault_probe(stand_in.url)
    assert section == {
        "status": "Invalid Credentials",
        "sealed": False,
        "message": "Permission was denied when checking the Vault token (HTTP 403).",
    }
    assert TOKEN not in repr(section) + all_logs.text


async def test_vault_without_token_is_improperly_configured(started):
    stand_in = await started(VaultStandIn(TOKEN, "active"))
    section = await vault_probe(stand_in.url, token=None)
    assert section["status"] == "Secrets Improperly Configured"


async def test_vault_refused():
    assert await vault_probe(refused_url()) == {
        "status": "Secrets Unavailable",
        "sealed": False,
        "message": "Unable to reach Vault: connection refused.",
    }


async def test_vault_5xx_from_a_proxy(started):
    stand_in = await started(VaultStandIn(TOKEN))
    stand_in.mode = "fail"  # a bare 503 with no JSON body: Scale reads any 503 as sealed
    assert (await vault_probe(stand_in.url))["status"] == "Sealed"


async def test_vault_hang_times_out(started, all_logs):
    stand_in = await started(VaultStandIn(TOKEN))
    stand_in.mode = "hang"
    begun = time.monotonic()
    section = await vault_probe(stand_in.url)
    assert time.monotonic() - begun < TIMEOUT + 1.0
    assert section == {
        "status": "Secrets Unavailable",
        "sealed": False,
        "message": "Unable to reach Vault: timed out after 0.5 s.",
    }
    assert TOKEN not in all_logs.text


# --- silo --------------------------------------------------------------------------------------------------


async def test_silo_ok(started, session):
    stand_in = await started(SiloStandIn())
    assert await silo.probe_silo(stand_in.url + "/", session, TIMEOUT) == {
        "OK": True,
        "detail": {"url": stand_in.url + "/", "msg": "Silo is alive and connected"},
        "errors": [],
        "warnings": [],
    }


async def test_silo_not_defined(session):
    assert await silo.probe_silo(None, session, TIMEOUT) == silo.not_defined()


async def test_silo_5xx(started, session):
    stand_in = await started(SiloStandIn())
    stand_in.mode = "fail"
    section = await silo.probe_silo(stand_in.url, session, TIMEOUT)
    assert section["errors"] == [{"503": "Silo returned a status code of 503"}]
    assert section["detail"]["msg"] == "Unable to connect to Silo"


async def test_silo_refused(session):
    section = await silo.probe_silo(refused_url(), session, TIMEOUT)
    assert section["errors"] == [{"UNKNOWN_ERROR": "Error with SILO_URL: connection refused"}]
    assert section["detail"]["msg"] == "Unable to connect to Silo"


async def test_silo_hang(started, session):
    stand_in = await started(SiloStandIn())
    stand_in.mode = "hang"
    begun = time.monotonic()
    section = await silo.probe_silo(stand_in.url, session, TIMEOUT)
    assert time.monotonic() - begun < TIMEOUT + 0.5
    assert section["errors"] == [{"UNKNOWN_ERROR": "Error with SILO_URL: timed out after 0.5 s"}]


# --- logs ----------------------------------------------------------------------------------------------------


async def logs_probe(session, address, health, buffer_warn=10, size_warn=100000000):
    return await logs.probe_logs(address, health, buffer_warn, size_warn, session, TIMEOUT)


async def test_logs_healthy(started, session):
    fluentd = await started(FluentdStandIn())
    sink = await started(TcpSink())
    health = fluentd.url + "/api/plugins.json"
    assert await logs_probe(session, sink.address, health) == {
        "OK": True,
        "detail": {"msg": "Logs are healthy", "logging_address": sink.address, "logging_health_address": health},
        "errors": [],
        "warnings": [],
    }
    assert sink.connections == 1


async def test_logs_backing_up(started, session):
    fluentd = await started(FluentdStandIn(queue_length=20, queued_size=100000000000))
    sink = await started(TcpSink())
    section = await logs_probe(session, sink.address, fluentd.url + "/api/plugins.json")
    assert section["OK"] is True
    assert section["detail"]["msg"] == "Logs are potentially backing up"
    assert section["warnings"] == [
        {"LARGE_BUFFER": "Length of log buffer is too long: 20 > 10"},
        {"LARGE_BUFFER_SIZE": "Size of log buffer is too large: 100000000000 > 100000000"},
    ]


async def test_logs_health_5xx_and_address_refused(started, session):
    fluentd = await started(FluentdStandIn())
    fluentd.mode = "fail"
    address = f"tcp://127.0.0.1:{free_port()}"
    section = await logs_probe(session, address, fluentd.url + "/api/plugins.json")
    assert section["OK"] is False
    assert section["errors"] == [
        {"503": "Logging health address returned 503"},
        {"UNKNOWN_ERROR": "Error with LOGGING_ADDRESS: connection refused"},
    ]
    assert section["detail"]["msg"] == "Error connecting to logging address"


async def test_logs_health_hang_times_out_within_the_timeout(started, session):
    fluentd = await started(FluentdStandIn())
    sink = await started(TcpSink())
    fluentd.mode = "hang"
    begun = time.monotonic()
    section = await logs_probe(session, sink.address, fluentd.url + "/api/plugins.json")
    assert time.monotonic() - begun < TIMEOUT + 0.5
    assert section["errors"] == [{"UNKNOWN_ERROR": "Error with LOGGING_HEALTH_ADDRESS: timed out after 0.5 s"}]
    assert section["detail"]["msg"] == "Error getting log health"


async def test_logs_health_not_json(started, session):
    fluentd = await started(FluentdStandIn())
    sink = await started(TcpSink())
    fluentd.body_override = b"<html>"
    section = await logs_probe(session, sink.address, fluentd.url + "/api/plugins.json")
    assert section["errors"] == [{"UNKNOWN_ERROR": "Error with LOGGING_HEALTH_ADDRESS: the answer is not JSON"}]


async def test_logs_both_unset(session):
    assert await logs_probe(session, None, None) == logs.logs_section(None, None, None, None, -1, -1)


# --- idam ---------------------------------------------------------------------------------------------------


def geoaxis_settings(port):
    return load_settings({}).replace(geoaxis_enabled=True, scale_vhost=f"127.0.0.1:{port},other.host")


async def test_idam_login_url_reachable_through_redirect(started, session):
    stand_in = await started(GeoaxisStandIn())
    settings = geoaxis_settings(stand_in.port)
    section = await idam.probe_idam(settings, session, TIMEOUT, scheme="http")
    assert section == idam.from_status(settings, "", 200)
    assert section["OK"] is True and section["detail"]["msg"] == "GEOAxIS is enabled"
    assert [r.path for r in stand_in.requests] == [
        "/social-auth/login/geoaxis/",
        "/ms_oauth/oauth2/endpoints/oauthservice/authorize",
    ]
    assert stand_in.requests[0].query_string == "="


@pytest.mark.parametrize("status,reason", [(404, "Not Found"), (401, "Unauthorized"), (503, "Service Unavailable")])
async def test_idam_http_errors(started, session, status, reason):
    stand_in = await started(GeoaxisStandIn())
    stand_in.login_status = status
    section = await idam.probe_idam(geoaxis_settings(stand_in.port), session, TIMEOUT, scheme="http")
    url = f"http://127.0.0.1:{stand_in.port}/social-auth/login/geoaxis/?="
    message = f"Error accessing Geoaxis login url {url}: HTTP {status} {reason}"
    assert section["OK"] is False
    assert section["errors"] == [{"GEOAXIS_ERROR": message}]
    assert section["detail"]["msg"] == message


async def test_idam_hang(started, session):
    stand_in = await started(GeoaxisStandIn())
    stand_in.mode = "hang"
    section = await idam.probe_idam(geoaxis_settings(stand_in.port), session, TIMEOUT, scheme="http")
    assert section["errors"][0]["GEOAXIS_ERROR"].endswith("?=: timed out after 0.5 s")


async def test_idam_disabled_makes_no_request(session):
    assert await idam.probe_idam(load_settings({}), session, TIMEOUT) == idam.disabled()
