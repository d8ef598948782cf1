"""The pure section builders: Scale's exact keys, messages and thresholds (reference §6 and §8.2)."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest

from scheduler.config import load_settings
from scheduler.dependencies import database_probe as database
from scheduler.dependencies import elastic_probe as elastic
from scheduler.dependencies import idam_probe as idam
from scheduler.dependencies import logs_probe as logs
from scheduler.dependencies import msg_queue_probe as msg_queue
from scheduler.dependencies import nodes_probe as nodes
from scheduler.dependencies import silo_probe as silo
from scheduler.dependencies import vault_probe as vault
from scheduler.dependencies.common import CheckStillRunning, ThreadSlot, known_cause, mask_section

# --- nodes (§6.6, §8.2 test_generate_nodes_status) -------------------------------------------


def test_nodes_none_reported():
    assert nodes.nodes_section([]) == {
        "OK": False,
        "detail": {"msg": "No nodes reported"},
        "errors": [{"NODES_OFFLINE": "No nodes reported."}],
        "warnings": [],
    }


def test_nodes_ten_ready():
    assert nodes.nodes_section(["READY"] * 10) == {
        "OK": True,
        "detail": {"msg": "Enough nodes are online to function."},
        "errors": [],
        "warnings": [],
    }


def test_nodes_four_of_ten_offline_is_an_error_plus_warning():
    assert nodes.nodes_section(["READY"] * 6 + ["OFFLINE"] * 4) == {
        "OK": False,
        "detail": {"msg": "Over a third of nodes are in an error state"},
        "errors": [{"NODES_ERRORED": "Over a third of the nodes are offline or degraded."}],
        "warnings": [{"NODES_OFFLINE": "4 nodes are offline"}],
    }


def test_nodes_three_of_ten_offline_is_only_a_warning():
    section = nodes.nodes_section(["READY"] * 7 + ["OFFLINE"] * 3)
    assert section["OK"] is True
    assert section["errors"] == []
    assert section["warnings"] == [{"NODES_OFFLINE": "3 nodes are offline"}]


def test_nodes_one_degraded_node_is_over_the_threshold():
    section = nodes.nodes_section(["DEGRADED"])
    assert section["OK"] is False
    assert section["errors"] == [{"NODES_ERRORED": "Over a third of the nodes are offline or degraded."}]
    assert section["warnings"] == [{"NODES_DEGRADED": "1 nodes are degraded"}]


def test_nodes_threshold_is_scales_0_3_not_a_third():
    # 10 of 30 is exactly a third, but more than 0.3 x 30 = 9: Scale's factor makes it an error.
    section = nodes.nodes_section(["READY"] * 20 + ["OFFLINE"] * 10)
    assert section["OK"] is False
    assert section["errors"] == [{"NODES_ERRORED": "Over a third of the nodes are offline or degraded."}]
    assert nodes.nodes_section(["READY"] * 21 + ["OFFLINE"] * 9)["OK"] is True


def test_nodes_other_states_count_as_nodes_but_not_failing():
    section = nodes.nodes_section(["PAUSED", "DEPRECATED", "INITIAL_CLEANUP", "OFFLINE"])
    assert section["OK"] is True  # 1 > 0.3 * 4 is false
    assert section["warnings"] == [{"NODES_OFFLINE": "1 nodes are offline"}]


def test_nodes_offline_and_degraded_both_warned():
    section = nodes.nodes_section(["READY"] * 8 + ["OFFLINE", "DEGRADED"])
    assert section["OK"] is True
    assert section["warnings"] == [{"NODES_OFFLINE": "1 nodes are offline"}, {"NODES_DEGRADED": "1 nodes are degraded"}]


# --- logs (§6.1, §8.2) --------------------------------------------------------------------------------


def test_logs_both_unset_is_scales_exact_section():
    assert logs.logs_section(None, None, None, None, -1, -1) == {
        "OK": False,
        "detail": {"msg": "LOGGING_ADDRESS is not defined"},
        "errors": [
            {"NO_LOGGING_HEALTH_DEFINED": "No logging health URL defined"},
            {"NO_LOGGING_DEFINED": "No logging address defined"},
        ],
        "warnings": [],
    }


def _plugin(length, size):
    return {"plugin_id": "es", "type": "elasticsearch", "buffer_queue_length": length, "buffer_total_queued_size": size}


def test_logs_good():
    health = logs.HealthAnswer(status=200, plugins=[_plugin(0, 0)])
    section = logs.logs_section("tcp://localhost:1234", "http://www.logging.com/health", health, None, 10, 100000000)
    assert section == {
        "OK": True,
        "detail": {
            "msg": "Logs are healthy",
            "logging_address": "tcp://localhost:1234",
            "logging_health_address": "http://www.logging.com/health",
        },
        "errors": [],
        "warnings": [],
    }


def test_logs_warn():
    health = logs.HealthAnswer(status=200, plugins=[_plugin(20, 100000000000)])
    section = logs.logs_section("tcp://localhost:1234", "http://www.logging.com/health", health, None, 10, 100000000)
    assert section["OK"] is True
    assert section["detail"]["msg"] == "Logs are potentially backing up"
    assert section["warnings"] == [
        {"LARGE_BUFFER": "Length of log buffer is too long: 20 > 10"},
        {"LARGE_BUFFER_SIZE": "Size of log buffer is too large: 100000000000 > 100000000"},
    ]


def test_logs_thresholds_off_and_other_plugin_types_ignored():
    plugins = [_plugin(20, 10**12), {"type": "forward", "buffer_queue_length": 10**6}]
    health = logs.HealthAnswer(status=200, plugins=plugins)
    assert logs.logs_section("tcp://h:1", "http://h/health", health, None, -1, 0)["warnings"] == []
    health = logs.HealthAnswer(status=200, plugins=[{**_plugin(99, 0), "type": "forward"}])
    assert logs.logs_section("tcp://h:1", "http://h/health", health, None, 10, 10)["warnings"] == []


def test_logs_health_non_200_uses_the_code_as_key():
    section = logs.logs_section("tcp://h:1", "http://h/health", logs.HealthAnswer(status=503), None, -1, -1)
    assert section["OK"] is False
    assert section["errors"] == [{"503": "Logging health address returned 503"}]
    assert section["detail"]["msg"] == "503 error getting logging health"


def test_logs_both_failing_last_failing_check_wins_msg():
    section = logs.logs_section(
        "tcp://h:1", "http://h/health", logs.HealthAnswer(error="connection refused"), "timed out after 5 s", -1, -1
    )
    assert section["errors"] == [
        {"UNKNOWN_ERROR": "Error with LOGGING_HEALTH_ADDRESS: connection refused"},
        {"UNKNOWN_ERROR": "Error with LOGGING_ADDRESS: timed out after 5 s"},
    ]
    assert section["detail"]["msg"] == "Error connecting to logging address"


def test_logs_only_health_failing():
    section = logs.logs_section("tcp://h:1", "http://h/health", logs.HealthAnswer(error="boom"), None, -1, -1)
    assert section["detail"]["msg"] == "Error getting log health"
    assert section["OK"] is False


def test_logs_health_unset_address_ok():
    section = logs.logs_section("tcp://h:1", None, None, None, -1, -1)
    assert section["errors"] == [{"NO_LOGGING_HEALTH_DEFINED": "No logging health URL defined"}]
    assert section["detail"] == {"msg": "LOGGING_HEALTH_ADDRESS is not defined", "logging_address": "tcp://h:1"}


@pytest.mark.parametrize("address", ["tcp://host", "tcp://:24224", "tcp://host:notaport"])
def test_logs_tcp_target_needs_host_and_port(address):
    with pytest.raises(ValueError):
        logs.tcp_target(address)


def test_logs_tcp_target():
    assert logs.tcp_target("tcp://fluentd:24224") == ("fluentd", 24224)
    assert logs.tcp_target("fluentd:24224") == ("fluentd", 24224)


# --- msg_queue (§6.5, §8.2) -----------------------------------------------------------------------------


def test_msg_queue_invalid_broker_url_exact():
    assert msg_queue.invalid_url("scale-command-messages", 3) == {
        "OK": False,
        "detail": {
            "num_message_handlers": 3,
            "queue_depth": None,  # Scale wrote 0; unknown is null here (issue 10)
            "type": "",
            "queue_name": "scale-command-messages",
            "region_name": "",
            "msg": "Error parsing broker url",
        },
        "errors": [{"INVALID_BROKER_URL": "Error parsing broker url"}],
        "warnings": [],
    }


@pytest.mark.parametrize("url", ["bad_broker", "amqp://host:notaport//", "://nothing", ""])
def test_msg_queue_unparseable_urls(url):
    assert msg_queue.parse_broker(url) is None


def test_msg_queue_parse_broker():
    assert msg_queue.parse_broker("amqp://guest:guest@rabbit:5672//") == ("amqp", "")
    assert msg_queue.parse_broker("pyamqp://rabbit//") == ("amqp", "")
    assert msg_queue.parse_broker("sqs://aws.com") == ("sqs", "aws.com")
    assert msg_queue.parse_broker("memory://") == ("memory", "")


def test_msg_queue_rabbit_error_exact():
    section = msg_queue.broker_error("scale-command-messages", 1, "amqp", "")
    assert section["OK"] is False
    assert section["detail"]["type"] == "amqp"
    assert section["detail"]["msg"] == "Unable to get message queue size."
    assert section["detail"]["queue_depth"] is None  # unknown: never 0
    assert section["errors"] == [{"RABBITMQ_ERROR": "Error connecting to RabbitMQ: Check Logs for details"}]


def test_msg_queue_rabbit_timeout_keeps_the_key():
    section = msg_queue.broker_error("q", 1, "amqp", "", "timed out after 5 s")
    assert section["errors"] == [{"RABBITMQ_ERROR": "Error connecting to RabbitMQ: timed out after 5 s"}]


def test_msg_queue_sqs_error_exact():
    section = msg_queue.broker_error("scale-command-messages", 1, "sqs", "aws.com")
    assert section["detail"]["region_name"] == "aws.com"
    assert section["detail"]["type"] == "sqs"
    assert section["errors"] == [{"SQS_ERROR": "Error connecting to SQS: Check Logs for details"}]


@pytest.mark.parametrize("kind,region", [("amqp", ""), ("sqs", "aws.com")])
def test_msg_queue_depth_threshold(kind, region):
    below = msg_queue.with_depth("scale-command-messages", 1, kind, region, 99, 100)
    assert below == {
        "OK": True,
        "detail": {
            "msg": "Message Queue is healthy",
            "queue_name": "scale-command-messages",
            "num_message_handlers": 1,
            "queue_depth": 99,
            "region_name": region,
            "type": kind,
        },
        "errors": [],
        "warnings": [],
    }
    above = msg_queue.with_depth("scale-command-messages", 1, kind, region, 101, 100)
    assert above["OK"] is True
    assert above["detail"]["msg"] == "Message queue is large. Scale may be unresponsive."
    assert above["warnings"] == [{"LARGE_QUEUE": "Message queue is very large"}]
    assert msg_queue.with_depth("q", 1, kind, region, 10**6, -1)["warnings"] == []
    assert msg_queue.with_depth("q", 1, kind, region, 100, 100)["warnings"] == []


def test_msg_queue_unsupported_type():
    section = msg_queue.unsupported("q", 1, "redis")
    assert section["OK"] is False
    assert section["errors"] == []
    assert section["detail"]["msg"] == "Broker is an unsupported type: redis"


# --- database (§6.4) ---------------------------------------------------------------------------------


def test_database_sections_exact():
    assert database.healthy() == {
        "OK": True,
        "detail": {"msg": "Database alive and well"},
        "errors": [],
        "warnings": [],
    }
    assert database.unavailable() == {
        "OK": False,
        "detail": {"msg": "Unable to connect to database"},
        "errors": [{"OPERATIONAL_ERROR": "Database unavailable."}],
        "warnings": [],
    }
    assert database.unavailable("connection refused")["errors"] == [
        {"OPERATIONAL_ERROR": "Database unavailable: connection refused."}
    ]


# --- elasticsearch (§6.2) ----------------------------------------------------------------------------


def test_elasticsearch_not_set_exact():
    assert elastic.not_set() == {
        "OK": False,
        "detail": {"msg": "ELASTICSEARCH_URL is not set", "url": None},
        "errors": [{"UNKNOWN_ERROR": "ELASTICSEARCH_URL is not set."}],
        "warnings": [],
    }


def test_elasticsearch_unreachable_exact():
    assert elastic.unreachable("http://offline.host") == {
        "OK": False,
        "detail": {"url": "http://offline.host", "msg": "Unable to connect to elasticsearch"},
        "errors": [{"CLUSTER_ERROR": "Elasticsearch cluster is unreachable."}],
        "warnings": [],
    }


def test_elasticsearch_health_colours():
    green = elastic.from_health("http://green.host", "green", {"tagline": "You know, for X"})
    assert green == {
        "OK": True,
        "detail": {
            "info": {"tagline": "You know, for X"},
            "msg": "Elasticsearch is healthy",
            "url": "http://green.host",
        },
        "errors": [],
        "warnings": [],
    }
    red = elastic.from_health("http://red.host", "red", {})
    assert red["OK"] is False
    assert red["detail"] == {"url": "http://red.host", "msg": "One or more primary shards is not allocated to any node"}
    assert red["errors"] == [{"CLUSTER_RED": "Elasticsearch cluster health is red. A primary shard is not allocated."}]
    yellow = elastic.from_health("http://y.host", "yellow", {})
    assert yellow["OK"] is False
    assert yellow["detail"]["msg"] == "One or more replica shards is not allocated to a node."
    assert yellow["errors"] == [
        {"CLUSTER_YELLOW": "Elasticsearch cluster health is yellow. A replica shard is not allocated."}
    ]
    assert elastic.from_health("http://x", "purple", {}) == {
        "OK": False,
        "detail": {"url": "http://x", "msg": ""},
        "errors": [],
        "warnings": [],
    }


def test_elasticsearch_url_password_is_masked():
    section = elastic.unreachable("http://elastic:hunter22@es:9200")
    assert "hunter22" not in repr(section)


# --- silo (§6.3) -------------------------------------------------------------------------------------


def test_silo_sections_exact():
    assert silo.not_defined() == {
        "OK": False,
        "detail": {"url": None},
        "errors": [{"NO_SILO_DEFINED": "No silo URL defined in environment. SOS."}],
        "warnings": [],
    }
    assert silo.from_status("https://silo", 200) == {
        "OK": True,
        "detail": {"msg": "Silo is alive and connected", "url": "https://silo"},
        "errors": [],
        "warnings": [],
    }
    assert silo.from_status("https://silo", 502) == {
        "OK": False,
        "detail": {"msg": "Unable to connect to Silo", "url": "https://silo"},
        "errors": [{"502": "Silo returned a status code of 502"}],
        "warnings": [],
    }
    unknown = silo.failed("https://silo", "boom", known=False)
    assert unknown["detail"]["msg"] == "Unknown error connecting to Silo"
    assert unknown["errors"] == [{"UNKNOWN_ERROR": "Error with SILO_URL: boom"}]


# --- idam (§6.7) -------------------------------------------------------------------------------------


def test_idam_disabled_exact():
    assert idam.disabled() == {
        "OK": True,
        "detail": {"geoaxis_enabled": False, "msg": "GEOAxIS is not enabled"},
        "errors": [],
        "warnings": [],
    }


def test_idam_enabled_by_key_and_detail():
    settings = load_settings({}).replace(geoaxis_key="key", scale_vhost="scale.io,other.io")
    assert idam.enabled(settings)
    assert not idam.enabled(load_settings({}))
    url = idam.login_url(settings.scale_vhost)
    assert url == "https://scale.io/social-auth/login/geoaxis/?="
    ok = idam.from_status(settings, url, 200, "OK")
    assert ok == {
        "OK": True,
        "detail": {
            "geoaxis_host": "geoaxis.gxaccess.com",
            "geoaxis_enabled": True,
            "backends": ["django.contrib.auth.backends.ModelBackend", "django_geoaxis.backends.geoaxis.GeoAxisOAuth2"],
            "geoaxis_authorization_url": "https://geoaxis.gxaccess.com/ms_oauth/oauth2/endpoints/oauthservice/authorize",
            "scale_vhost": "scale.io,other.io",
            "msg": "GEOAxIS is enabled",
        },
        "errors": [],
        "warnings": [],
    }
    not_found = idam.from_status(settings, url, 404, "Not Found")
    text = "Error accessing Geoaxis login url https://scale.io/social-auth/login/geoaxis/?=: HTTP 404 Not Found"
    assert not_found["OK"] is False
    assert not_found["errors"] == [{"GEOAXIS_ERROR": text}]
    assert not_found["detail"]["msg"] == text
    no_content = idam.from_status(settings, url, 204, "No Content")
    assert no_content["OK"] is False
    assert no_content["errors"] == [
        {"GEOAXIS_ERROR": f"Error accessing Geoaxis login url {url}: HTTP 204 No Content (expected 200)"}
    ]


# --- vault (§6.8) ------------------------------------------------------------------------------------


def test_vault_not_configured_is_scales():
    assert vault.not_configured() == {"status": "Secrets Not Configured", "sealed": False, "message": ""}


@pytest.mark.parametrize("code", [200, 429, 473])
def test_vault_usable_with_valid_token_is_ok(code):
    assert vault.vault_section(code, {"sealed": False}, 200) == {"status": "Ok", "sealed": False, "message": ""}


def test_vault_mapping():
    sealed = vault.vault_section(503, {"sealed": True}, None)
    assert sealed == {
        "status": "Sealed",
        "sealed": True,
        "message": "Status Code 503 - Secrets store is down for maintenance or is currently sealed.",
    }
    assert vault.vault_section(503, None, None)["status"] == "Sealed"  # a bare 503: Scale's reading
    uninit = vault.vault_section(501, {"initialized": False, "sealed": True}, None)
    assert uninit == {"status": "Not Initialized", "sealed": True, "message": "Vault is not initialized (HTTP 501)."}
    dr = vault.vault_section(472, {"sealed": False}, None)
    assert dr["status"] == "Secrets Unavailable" and dr["sealed"] is False
    assert vault.vault_section(500, None, None) == {
        "status": "Secrets Unavailable",
        "sealed": False,
        "message": "Status Code 500 - Internal server error.",
    }
    assert vault.vault_section(418, None, None)["message"] == "Vault health check returned HTTP 418."
    assert vault.vault_section(200, {}, 403) == {
        "status": "Invalid Credentials",
        "sealed": False,
        "message": "Permission was denied when checking the Vault token (HTTP 403).",
    }
    assert vault.vault_section(200, {}, None)["status"] == "Secrets Improperly Configured"
    assert (
        vault.vault_section(200, {}, 500)["message"]
        == "Vault token lookup failed: Status Code 500 - Internal server error."
    )


# --- common --------------------------------------------------------------------------------------------


def test_known_causes():
    assert known_cause(ConnectionRefusedError(111, "Connection refused"), 5) == "connection refused"
    assert known_cause(TimeoutError(), 5) == "timed out after 5 s"
    assert known_cause(socket.gaierror(-2, "Name or service not known"), 5) == "host not found"
    wrapped = RuntimeError("wrapper")
    wrapped.__cause__ = ConnectionRefusedError()
    assert known_cause(wrapped, 5) == "connection refused"
    assert known_cause(Exception('connection to server at "x" failed: Connection refused'), 5) == "connection refused"
    assert known_cause(Exception("connection to server failed: timeout expired"), 2.5) == "timed out after 2.5 s"
    assert known_cause(CheckStillRunning(12.2), 5).startswith("timed out, the previous check is still hung after 12 s")
    assert known_cause(ValueError("something else"), 5) is None


def test_mask_section_masks_every_string():
    section = {"OK": False, "detail": {"msg": "x s3cret y", "n": 3}, "errors": [{"K": "amqp://u:pw@h// s3cret"}]}
    masked = mask_section(section, ["s3cret"])
    assert masked == {"OK": False, "detail": {"msg": "x **** y", "n": 3}, "errors": [{"K": "amqp://u:****@h// ****"}]}


async def test_thread_slot_holds_at_most_one_hung_call():
    slot = ThreadSlot("t")
    release = threading.Event()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1):
            await slot.call(lambda: release.wait(5))
    assert slot.busy
    with pytest.raises(CheckStillRunning):
        await slot.call(lambda: "second")
    assert sum(1 for t in threading.enumerate() if t.name == "probe-t") == 1
    release.set()
    for _ in range(100):
        if not slot.busy:
            break
        await asyncio.sleep(0.01)
    assert await slot.call(lambda: "free again") == "free again"


async def test_thread_slot_hands_back_exceptions():
    def boom():
        raise ValueError("from the thread")

    slot = ThreadSlot("t")
    with pytest.raises(ValueError, match="from the thread"):
        await slot.call(boom)
    assert not slot.busy
