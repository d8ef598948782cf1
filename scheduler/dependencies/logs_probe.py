"""``dependencies.logs``: the log shipping target (fluentd) and its monitor agent.

Two checks, run concurrently, each bounded by the probe timeout:

* ``LOGGING_HEALTH_ADDRESS`` is fetched; in its fluentd ``monitor_agent`` answer
  (``{"plugins": [{"type": "elasticsearch", "buffer_queue_length": ..., "buffer_total_queued_size":
  ...}, ...]}``) every elasticsearch output is checked against ``FLUENTD_BUFFER_WARN`` and
  ``FLUENTD_BUFFER_SIZE_WARN`` (a threshold <= 0 is off).
* ``LOGGING_ADDRESS`` (``tcp://host:port``) gets a TCP connect, and the socket is closed again.

TLS certificates of the health URL are verified (Scale's ``requests`` call had ``verify=False``).
The section is then built exactly in Scale's order: the health check first, then the address, each
adding its error; the last failing check sets ``msg``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from scheduler.dependencies.common import JSON, Report, Secrets, describe, report_debug, section
from scheduler.redact import mask_url

HEALTHY_MSG = "Logs are healthy"
BACKING_UP_MSG = "Logs are potentially backing up"


@dataclass(frozen=True)
class HealthAnswer:
    """What the monitor agent said: an HTTP status, its plugins when 200, or why it failed."""

    status: int | None = None
    plugins: list[Any] | None = None
    error: str | None = None


def buffer_warnings(plugins: list[Any], buffer_warn: int, size_warn: int) -> list[JSON]:
    warnings: list[JSON] = []
    for plugin in plugins:
        if not isinstance(plugin, dict) or plugin.get("type") != "elasticsearch":
            continue
        length = plugin.get("buffer_queue_length")
        size = plugin.get("buffer_total_queued_size")
        if buffer_warn > 0 and _number(length) and length > buffer_warn:
            warnings.append({"LARGE_BUFFER": f"Length of log buffer is too long: {length} > {buffer_warn}"})
        if size_warn > 0 and _number(size) and size > size_warn:
            warnings.append({"LARGE_BUFFER_SIZE": f"Size of log buffer is too large: {size} > {size_warn}"})
    return warnings


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def logs_section(
    address: str | None,
    health_address: str | None,
    health: HealthAnswer | None,
    connect_error: str | None,
    buffer_warn: int,
    size_warn: int,
) -> JSON:
    """Scale's section from the two outcomes (``health`` is None when there is no health URL)."""
    ok = True
    detail: JSON = {"msg": HEALTHY_MSG}
    errors: list[JSON] = []
    warnings: list[JSON] = []
    if health_address:
        detail["logging_health_address"] = mask_url(health_address)
        health = health or HealthAnswer(error="not checked")
        if health.error is not None:
            ok = False
            errors.append({"UNKNOWN_ERROR": f"Error with LOGGING_HEALTH_ADDRESS: {health.error}"})
            detail["msg"] = "Error getting log health"
        elif health.status != 200:
            ok = False
            errors.append({str(health.status): f"Logging health address returned {health.status}"})
            detail["msg"] = f"{health.status} error getting logging health"
        else:
            warnings = buffer_warnings(health.plugins or [], buffer_warn, size_warn)
            if warnings:
                detail["msg"] = BACKING_UP_MSG
    else:
        ok = False
        errors.append({"NO_LOGGING_HEALTH_DEFINED": "No logging health URL defined"})
        detail["msg"] = "LOGGING_HEALTH_ADDRESS is not defined"
    if address:
        detail["logging_address"] = mask_url(address)
        if connect_error is not None:
            ok = False
            errors.append({"UNKNOWN_ERROR": f"Error with LOGGING_ADDRESS: {connect_error}"})
            detail["msg"] = "Error connecting to logging address"
    else:
        ok = False
        errors.append({"NO_LOGGING_DEFINED": "No logging address defined"})
        detail["msg"] = "LOGGING_ADDRESS is not defined"
    return section(ok, detail, errors, warnings)


def failed(address: str | None, health_address: str | None, cause: str) -> JSON:
    """Both checks failed for one reason (the whole probe timed out or broke)."""
    return logs_section(address, health_address, HealthAnswer(error=cause), cause, -1, -1)


def tcp_target(address: str) -> tuple[str, int]:
    """``(host, port)`` of ``tcp://host:port`` (a bare ``host:port`` is accepted too)."""
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if not parts.hostname or parts.port is None:
        raise ValueError("expected tcp://host:port")
    return parts.hostname, parts.port


async def fetch_health(session: aiohttp.ClientSession, url: str, timeout_s: float, secrets: Secrets) -> HealthAnswer:
    try:
        async with asyncio.timeout(timeout_s):
            async with session.get(url) as response:
                if response.status != 200:
                    return HealthAnswer(status=response.status)
                body = await response.read()
    except aiohttp.InvalidURL:
        return HealthAnswer(error="not a valid http(s) URL")
    except Exception as exc:
        return HealthAnswer(error=describe(exc, timeout_s, secrets))
    try:
        answer = json.loads(body)
    except ValueError:
        return HealthAnswer(error="the answer is not JSON")
    plugins = answer.get("plugins") if isinstance(answer, dict) else None
    if not isinstance(plugins, list):
        return HealthAnswer(error="the answer has no plugins list")
    return HealthAnswer(status=200, plugins=plugins)


async def connect_tcp(address: str, timeout_s: float, secrets: Secrets) -> str | None:
    """None when a TCP connection to the address opens (it is closed at once), else why not."""
    try:
        host, port = tcp_target(address)
        async with asyncio.timeout(timeout_s):
            _reader, writer = await asyncio.open_connection(host, port)
    except Exception as exc:
        return describe(exc, timeout_s, secrets)
    writer.close()
    with contextlib.suppress(Exception):
        async with asyncio.timeout(timeout_s):
            await writer.wait_closed()
    return None


async def probe_logs(
    address: str | None,
    health_address: str | None,
    buffer_warn: int,
    size_warn: int,
    session: aiohttp.ClientSession,
    timeout_s: float,
    *,
    secrets: Secrets = (),
    report: Report = report_debug,
) -> JSON:
    async def no_health() -> None:
        return None

    async def no_connect() -> None:
        return None

    health, connect_error = await asyncio.gather(
        fetch_health(session, health_address, timeout_s, secrets) if health_address else no_health(),
        connect_tcp(address, timeout_s, secrets) if address else no_connect(),
    )
    if health is not None and health.error:
        report(f"LOGGING_HEALTH_ADDRESS: {health.error}")
    if connect_error:
        report(f"LOGGING_ADDRESS: {connect_error}")
    return logs_section(address, health_address, health, connect_error, buffer_warn, size_warn)
