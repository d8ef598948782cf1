"""``vault`` (a top-level section): the secrets store, read through hvac.

Two calls, on the probe's thread slot, each with hvac's client-level ``timeout``:
``GET /v1/sys/health`` (no token needed), then, when Vault can serve, ``auth.token.lookup_self``
with ``SECRETS_TOKEN``. The section is ``{"status", "sealed", "message"}``, as in Scale.

Mapping (Scale's strings where Scale has them; the others chosen here):

========================================  ==============================  ======  ==========================
case                                      status                          sealed  message
========================================  ==============================  ======  ==========================
``SECRETS_URL`` unset                     ``Secrets Not Configured``      false   ``''``
health 200 (active), 429 (unsealed        ``Ok``                          false   ``''``
standby) or 473 (performance standby),
and the token is valid
health 503 (sealed)                       ``Sealed``                      true    Scale's 503 text: ``Status
                                                                                  Code 503 - Secrets store is
                                                                                  down for maintenance or is
                                                                                  currently sealed.``
health 501 (not initialised)              ``Not Initialized``             true    ``Vault is not initialized
                                                                                  (HTTP 501).``
health 472 (DR secondary: serves no       ``Secrets Unavailable``         false   ``Vault is a disaster-
client requests)                                                                  recovery secondary (HTTP
                                                                                  472) and serves no
                                                                                  secrets.``
health any other code                     ``Secrets Unavailable``         false   Scale's text for the code
                                                                                  (e.g. ``Status Code 500 -
                                                                                  Internal server error.``),
                                                                                  else ``Vault health check
                                                                                  returned HTTP <code>.``
usable but no ``SECRETS_TOKEN``           ``Secrets Improperly            false   ``SECRETS_URL is set but
                                          Configured``                            SECRETS_TOKEN is not.``
token lookup 403 (bad token,              ``Invalid Credentials``         false   ``Permission was denied when
permission denied) or 401                                                         checking the Vault token
                                                                                  (HTTP 403).``
token lookup another error                ``Secrets Unavailable``         false   ``Vault token lookup failed:
                                                                                  <Scale's text for the
                                                                                  code>``
unreachable: refused, timed out, unknown  ``Secrets Unavailable``         false   ``Unable to reach Vault:
host, previous check still hung                                                   <cause>.``
no result yet                             ``Pending``                     false   ``Vault check pending: no
                                                                                  result yet.``
========================================  ==============================  ======  ==========================

The token never appears: it is only sent in hvac's ``X-Vault-Token`` header, and every text is
masked before it is stored or logged.
"""

from __future__ import annotations

from typing import Any

import hvac
import requests
from hvac import exceptions as hvac_exceptions
from hvac.adapters import RawAdapter

from scheduler.dependencies.common import JSON, Report, Secrets, ThreadSlot, describe, exception_text, report_debug
from scheduler.tls import requests_verify

OK = "Ok"
NOT_CONFIGURED = "Secrets Not Configured"
SEALED = "Sealed"
NOT_INITIALIZED = "Not Initialized"
IMPROPERLY_CONFIGURED = "Secrets Improperly Configured"
INVALID_CREDENTIALS = "Invalid Credentials"
UNAVAILABLE = "Secrets Unavailable"
PENDING = "Pending"

USABLE_HEALTH = (200, 429, 473)  # active, unsealed standby, performance standby

# Scale's texts for HTTP codes from the secrets store (scale/vault/secrets_handler.py).
CODE_TEXT = {
    301: 'Status Code 301 - Too many "/" separators in URL.',
    400: "Status Code 400 - Invalid request, missing or invalid data.",
    403: "Status Code 403 - Forbidden, authentication details are incorrect or no access to feature.",
    404: "Status Code 404 - Invalid path, secret or backend not found.",
    405: "Status Code 405 - Unsupported operation.",
    409: "Status Code 409 - Secret or secret store already exists.",
    429: "Status Code 429 - Rate limit exceeded.",
    500: "Status Code 500 - Internal server error.",
    503: "Status Code 503 - Secrets store is down for maintenance or is currently sealed.",
}

# hvac raises one class per status code and keeps no code: back from the class to the code.
_EXCEPTION_CODES: tuple[tuple[type[Exception], int], ...] = (
    (hvac_exceptions.InvalidRequest, 400),
    (hvac_exceptions.Unauthorized, 401),
    (hvac_exceptions.Forbidden, 403),
    (hvac_exceptions.InvalidPath, 404),
    (hvac_exceptions.RateLimitExceeded, 429),
    (hvac_exceptions.InternalServerError, 500),
    (hvac_exceptions.VaultNotInitialized, 501),
    (hvac_exceptions.BadGateway, 502),
    (hvac_exceptions.VaultDown, 503),
)


def vault(status: str, sealed: bool = False, message: str = "") -> JSON:
    return {"status": status, "sealed": sealed, "message": message}


def not_configured() -> JSON:
    return vault(NOT_CONFIGURED)


def pending() -> JSON:
    return vault(PENDING, message="Vault check pending: no result yet.")


def unreachable(cause: str) -> JSON:
    return vault(UNAVAILABLE, message=f"Unable to reach Vault: {cause}.")


def code_text(code: int) -> str:
    return CODE_TEXT.get(code, f"Vault returned HTTP {code}.")


def from_health(code: int, body: Any) -> JSON | None:
    """The section when the health answer alone decides; None when Vault can serve (check the token)."""
    if code in USABLE_HEALTH:
        return None
    reported_sealed = body.get("sealed") if isinstance(body, dict) else None
    if code == 503 and reported_sealed is not False:
        return vault(SEALED, True, CODE_TEXT[503])
    if code == 501:
        return vault(NOT_INITIALIZED, reported_sealed is not False, "Vault is not initialized (HTTP 501).")
    if code == 472:
        return vault(UNAVAILABLE, False, "Vault is a disaster-recovery secondary (HTTP 472) and serves no secrets.")
    message = CODE_TEXT.get(code, f"Vault health check returned HTTP {code}.")
    return vault(UNAVAILABLE, bool(reported_sealed), message)


def from_token_lookup(code: int | None) -> JSON:
    """The section once health said Vault can serve: ``code`` is the lookup-self status (None: no token)."""
    if code is None:
        return vault(IMPROPERLY_CONFIGURED, False, "SECRETS_URL is set but SECRETS_TOKEN is not.")
    if code == 200:
        return vault(OK)
    if code in (401, 403):
        return vault(INVALID_CREDENTIALS, False, f"Permission was denied when checking the Vault token (HTTP {code}).")
    return vault(UNAVAILABLE, False, f"Vault token lookup failed: {code_text(code)}")


def lookup_code(exc: Exception) -> int | None:
    for kind, code in _EXCEPTION_CODES:
        if isinstance(exc, kind):
            return code
    return None


def read_vault(
    url: str, token: str | None, timeout_s: float, ca_file: str | None = None
) -> tuple[int, Any, int | None]:
    """Blocking: ``(health code, health body, lookup-self code or None)``; the lookup only if usable."""
    session = requests.Session()
    session.verify = requests_verify(ca_file)  # hvac takes a given session's verify over its own argument
    try:
        client = hvac.Client(
            url=url,
            token=token or "",
            timeout=timeout_s,
            session=session,
            adapter=RawAdapter,
            verify=requests_verify(ca_file),
        )
        response = client.sys.read_health_status(method="GET")
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code not in USABLE_HEALTH or not token:
            return response.status_code, body, None
        try:
            client.auth.token.lookup_self()
        except hvac_exceptions.VaultError as exc:
            code = lookup_code(exc)
            if code is None:
                raise
            return response.status_code, body, code
        return response.status_code, body, 200
    finally:
        session.close()


def vault_section(health_code: int, body: Any, lookup: int | None) -> JSON:
    return from_health(health_code, body) or from_token_lookup(lookup)


async def probe_vault(
    url: str | None,
    token: str | None,
    slot: ThreadSlot,
    timeout_s: float,
    *,
    secrets: Secrets = (),
    report: Report = report_debug,
    ca_file: str | None = None,
) -> JSON:
    if not url:
        return not_configured()
    try:
        health_code, body, lookup = await slot.call(lambda: read_vault(url, token, timeout_s, ca_file))
    except Exception as exc:
        cause = describe(exc, timeout_s, secrets)
        report(exception_text(exc, secrets))
        return unreachable(cause)
    return vault_section(health_code, body, lookup)
