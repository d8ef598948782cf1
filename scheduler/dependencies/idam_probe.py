"""``dependencies.idam``: GEOAxIS, when enabled, must serve Scale's login URL.

GEOAxIS is enabled by ``GEOAXIS_ENABLED`` or a non-empty ``GEOAXIS_KEY`` (Scale turns it on by the
key). Enabled, the detail carries Scale's fields and ``https://<first SCALE_VHOST>/social-auth/login/
geoaxis/?=`` is fetched, following redirects, with TLS verification on; 200 is OK.

Errors are ``GEOAXIS_ERROR`` with Scale's text ``Error accessing Geoaxis login url <url>: <cause>``,
which is also the msg. The cause is ``HTTP <code> <reason>`` for an HTTP error, or a timeout, a
refused connection, an unknown host. Unlike Scale, which left ``OK`` false without any error for a
2xx other than 200, that case gets the same error, so the section says why it is not OK.
"""

from __future__ import annotations

import asyncio

import aiohttp

from scheduler.config import Settings
from scheduler.dependencies.common import JSON, Report, Secrets, describe, exception_text, report_debug, section

# What Scale's web tier reports (its Django AUTHENTICATION_BACKENDS with GEOAxIS on).
BACKENDS = ["django.contrib.auth.backends.ModelBackend", "django_geoaxis.backends.geoaxis.GeoAxisOAuth2"]
ENABLED_MSG = "GEOAxIS is enabled"


def enabled(settings: Settings) -> bool:
    return bool(settings.geoaxis_enabled or settings.geoaxis_key)


def login_url(scale_vhost: str, scheme: str = "https") -> str:
    first = scale_vhost.split(",")[0].strip()
    return f"{scheme}://{first}/social-auth/login/geoaxis/?="


def disabled() -> JSON:
    return section(True, {"geoaxis_enabled": False, "msg": "GEOAxIS is not enabled"})


def enabled_detail(settings: Settings) -> JSON:
    return {
        "geoaxis_host": settings.geoaxis_host,
        "geoaxis_enabled": True,
        "backends": list(BACKENDS),
        "geoaxis_authorization_url": f"https://{settings.geoaxis_host}/ms_oauth/oauth2/endpoints/oauthservice/authorize",
        "scale_vhost": settings.scale_vhost,
        "msg": ENABLED_MSG,
    }


def failed(settings: Settings, url: str, cause: str) -> JSON:
    message = f"Error accessing Geoaxis login url {url}: {cause}"
    return section(False, {**enabled_detail(settings), "msg": message}, [{"GEOAXIS_ERROR": message}])


def from_status(settings: Settings, url: str, status: int, reason: str = "") -> JSON:
    if status == 200:
        return section(True, enabled_detail(settings))
    cause = f"HTTP {status} {reason}".strip()
    if status < 400:
        cause += " (expected 200)"
    return failed(settings, url, cause)


async def probe_idam(
    settings: Settings,
    session: aiohttp.ClientSession,
    timeout_s: float,
    *,
    scheme: str = "https",
    secrets: Secrets = (),
    report: Report = report_debug,
) -> JSON:
    if not enabled(settings):
        return disabled()
    url = login_url(settings.scale_vhost, scheme)
    try:
        async with asyncio.timeout(timeout_s):
            async with session.get(url, allow_redirects=True) as response:
                status, reason = response.status, response.reason or ""
    except Exception as exc:
        cause = describe(exc, timeout_s, secrets)
        report(exception_text(exc, secrets))
        return failed(settings, url, cause)
    return from_status(settings, url, status, reason)
