"""``dependencies.silo``: the Silo service answers ``GET SILO_URL`` with 200.

Scale's cases: no URL (``NO_SILO_DEFINED``, and no ``msg`` key at all), 200, another status (the
status code, as a string, is the error key), an exception (``UNKNOWN_ERROR``). A timeout or a
refused connection is an ``UNKNOWN_ERROR`` that names the cause, with msg ``Unable to connect to
Silo``; other exceptions keep Scale's msg ``Unknown error connecting to Silo``. TLS certificates
are verified (Scale's ``requests`` call had ``verify=False``).
"""

from __future__ import annotations

import asyncio

import aiohttp

from scheduler.dependencies.common import (
    JSON,
    Report,
    Secrets,
    describe,
    exception_text,
    known_cause,
    report_debug,
    section,
)
from scheduler.redact import mask_url

HEALTHY_MSG = "Silo is alive and connected"


def not_defined() -> JSON:
    return section(False, {"url": None}, [{"NO_SILO_DEFINED": "No silo URL defined in environment. SOS."}])


def from_status(url: str, status: int) -> JSON:
    if status == 200:
        return section(True, {"url": mask_url(url), "msg": HEALTHY_MSG})
    return section(
        False,
        {"url": mask_url(url), "msg": "Unable to connect to Silo"},
        [{str(status): f"Silo returned a status code of {status}"}],
    )


def failed(url: str, cause: str, *, known: bool = True) -> JSON:
    msg = "Unable to connect to Silo" if known else "Unknown error connecting to Silo"
    return section(False, {"url": mask_url(url), "msg": msg}, [{"UNKNOWN_ERROR": f"Error with SILO_URL: {cause}"}])


async def probe_silo(
    url: str | None,
    session: aiohttp.ClientSession,
    timeout_s: float,
    *,
    secrets: Secrets = (),
    report: Report = report_debug,
) -> JSON:
    if not url:
        return not_defined()
    try:
        async with asyncio.timeout(timeout_s):
            async with session.get(url) as response:
                status = response.status
    except Exception as exc:
        cause = describe(exc, timeout_s, secrets)
        report(exception_text(exc, secrets))
        return failed(url, cause, known=known_cause(exc, timeout_s) is not None)
    return from_status(url, status)
