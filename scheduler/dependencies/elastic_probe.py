"""``dependencies.elasticsearch``: reachability, cluster health and info, through the official client.

The sync client runs on the probe's thread slot with a client-level ``request_timeout``, no
sniffing and no retries (the probe itself runs again soon). ``GET /`` (info) doubles as the ping:
Scale's ``ping()`` turned every failure into ``False``, whereas this keeps the cause (refused,
timed out, an HTTP status, a server that is not Elasticsearch) for the message. TLS certificates
are verified (Scale turned verification off).

Health ``red`` and ``yellow`` are errors, as in Scale; ``green`` is OK with ``detail.info``.
"""

from __future__ import annotations

from typing import Any

from elasticsearch import ApiError, Elasticsearch, UnsupportedProductError

from scheduler.dependencies.common import (
    JSON,
    Report,
    Secrets,
    ThreadSlot,
    exception_text,
    known_cause,
    report_debug,
    section,
)
from scheduler.redact import mask_url
from scheduler.tls import elasticsearch_tls

UNREACHABLE_MSG = "Unable to connect to elasticsearch"


def not_set() -> JSON:
    return section(
        False,
        {"msg": "ELASTICSEARCH_URL is not set", "url": None},
        [{"UNKNOWN_ERROR": "ELASTICSEARCH_URL is not set."}],
    )


def unreachable(url: str, cause: str | None = None) -> JSON:
    message = "Elasticsearch cluster is unreachable."
    if cause:
        message = f"Elasticsearch cluster is unreachable: {cause}."
    return section(False, {"url": mask_url(url), "msg": UNREACHABLE_MSG}, [{"CLUSTER_ERROR": message}])


def from_health(url: str, status: Any, info: JSON) -> JSON:
    """The section for a cluster that answered: its health colour decides."""
    detail: JSON = {"url": mask_url(url), "msg": ""}
    if status == "green":
        detail.update(msg="Elasticsearch is healthy", info=info)
        return section(True, detail)
    if status == "red":
        detail["msg"] = "One or more primary shards is not allocated to any node"
        return section(
            False,
            detail,
            [{"CLUSTER_RED": "Elasticsearch cluster health is red. A primary shard is not allocated."}],
        )
    if status == "yellow":
        detail["msg"] = "One or more replica shards is not allocated to a node."
        return section(
            False,
            detail,
            [{"CLUSTER_YELLOW": "Elasticsearch cluster health is yellow. A replica shard is not allocated."}],
        )
    return section(False, detail)  # Scale's answer for a colour it does not know


def cluster_cause(exc: BaseException, timeout_s: float) -> str | None:
    if isinstance(exc, UnsupportedProductError):
        return "the server does not identify itself as Elasticsearch"
    if isinstance(exc, ApiError):
        return f"HTTP {exc.meta.status}"
    return known_cause(exc, timeout_s)


def read_cluster(url: str, timeout_s: float, ca_file: str | None = None) -> tuple[JSON, Any]:
    """Blocking: ``(info, health status)`` of the cluster at ``url``."""
    client = Elasticsearch(
        url,
        **elasticsearch_tls(ca_file),
        request_timeout=timeout_s,
        max_retries=0,
        retry_on_timeout=False,
        sniff_on_start=False,
        sniff_on_node_failure=False,
    )
    try:
        info = dict(client.info().body)
        health = client.cluster.health().body
        return info, health.get("status") if isinstance(health, dict) else None
    finally:
        client.close()


async def probe_elasticsearch(
    url: str | None,
    slot: ThreadSlot,
    timeout_s: float,
    *,
    secrets: Secrets = (),
    report: Report = report_debug,
    ca_file: str | None = None,
) -> JSON:
    if not url:
        return not_set()
    try:
        info, status = await slot.call(lambda: read_cluster(url, timeout_s, ca_file))
    except Exception as exc:
        report(exception_text(exc, secrets))
        return unreachable(url, cluster_cause(exc, timeout_s))
    return from_health(url, status, info)
