"""TLS of every outbound client, from two settings: ``CA_FILE`` and ``DATABASE_SSLMODE``.

- HTTP clients (the Mesos driver, the probes' aiohttp session): ``client_ssl_context(settings)``,
  a verifying context that trusts CA_FILE (or the system's CAs when it is unset).
- RabbitMQ: ``amqps://`` connects with TLS, the certificate verified against CA_FILE (or the
  system's CAs) and its host name checked; ``broker_ssl``.
- PostgreSQL: ``database_tls``. sslmode is DATABASE_SSLMODE if set, else the URL's own
  ``?sslmode=``, else ``verify-full`` when CA_FILE is set; otherwise libpq's default (``prefer``:
  encrypted when the server offers it, *not* verified), with a warning for a non-local server.
- requests-based clients (hvac): ``requests_verify``; Elasticsearch: ``elasticsearch_tls``.
"""

from __future__ import annotations

import functools
import logging
import ssl
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger(__name__)

VERIFYING_MODES = ("verify-ca", "verify-full")
_LOCAL_HOSTS = ("", "localhost", "127.0.0.1", "::1")


class TlsSettings(Protocol):
    ca_file: str | None
    database_sslmode: str | None


@functools.cache
def _context(ca_file: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_file)  # verifies the chain and the host name
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def client_ssl_context(settings: TlsSettings) -> ssl.SSLContext:
    """The SSL context of HTTPS clients: CA_FILE's CAs (else the system's), host names checked."""
    return _context(getattr(settings, "ca_file", None))


def broker_ssl(url: str, ca_file: str | None) -> dict[str, Any] | bool:
    """kombu's ``ssl`` option for a broker URL: TLS options for ``amqps://``, False otherwise."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme != "amqps":
        return False
    try:
        host = urlsplit(url).hostname
    except ValueError:
        host = None
    # The URL's host, as written: kombu would check a "localhost" broker's certificate for 127.0.0.1.
    options: dict[str, Any] = {"cert_reqs": ssl.CERT_REQUIRED, "server_hostname": host}
    if ca_file:
        options["ca_certs"] = ca_file
    return options


def database_tls(url: str, sslmode: str | None, ca_file: str | None) -> dict[str, str]:
    """psycopg2 connect arguments for TLS (empty for SQLite, and when nothing is set)."""
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgresql"):
        return {}
    query = parse_qs(parts.query)
    args: dict[str, str] = {}
    mode = sslmode or (query.get("sslmode") or [None])[0] or ("verify-full" if ca_file else None)
    if mode:
        args["sslmode"] = mode
    if ca_file and "sslrootcert" not in query:
        args["sslrootcert"] = ca_file
    if mode not in VERIFYING_MODES and mode != "disable" and (parts.hostname or "") not in _LOCAL_HOSTS:
        _warn_unverified(parts.hostname or "", mode or "prefer")
    return args


@functools.cache
def _warn_unverified(host: str, mode: str) -> None:
    log.warning(
        "PostgreSQL at %s: TLS is not verified (sslmode %s); set DATABASE_SSLMODE=verify-full and CA_FILE",
        host,
        mode,
    )


def requests_verify(ca_file: str | None) -> str | bool:
    """``verify`` of a requests session: the CA file, or True (the system's CAs)."""
    return ca_file or True


def elasticsearch_tls(ca_file: str | None) -> dict[str, Any]:
    """Keyword arguments of the Elasticsearch client: its CA file when one is set."""
    return {"ca_certs": ca_file} if ca_file else {}
