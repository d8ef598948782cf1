"""HTTP framework authentication as a Mesos 1.11 master with `--authenticate_http_frameworks` does it.

Verified in the Mesos 1.11.0 source (see README.md, "Authentication"):
`--credentials` is a JSON file `{"credentials": [{"principal": ..., "secret": ...}]}`
(`src/credentials/credentials.hpp`; 1.11 reads JSON only); the basic authenticator
(`3rdparty/libprocess/src/authenticator.cpp`) wants `Authorization: Basic <b64>`
with exactly one space, the base64 of exactly `principal:secret` (split on every
`:`, so a secret containing `:` can never authenticate), and answers anything else
with 401, `WWW-Authenticate: Basic realm="<realm>"` and the body `401 Unauthorized.`
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from pathlib import Path

SCHEDULER_REALM = "mesos-master-scheduler"  # DEFAULT_HTTP_FRAMEWORK_AUTHENTICATION_REALM
READONLY_REALM = "mesos-master-readonly"  # READONLY_HTTP_AUTHENTICATION_REALM (/master/state, ...)
READWRITE_REALM = "mesos-master-readwrite"  # READWRITE_HTTP_AUTHENTICATION_REALM (/api/v1, ...)
UNAUTHORIZED_BODY = "401 Unauthorized."
MAX_CREDENTIALS_BYTES = 1024 * 1024
MAX_HEADER_CHARS = 8192

Credentials = tuple[tuple[str, str], ...]  # (principal, secret) pairs


def parse_credentials(text: str) -> Credentials:
    """The credentials of a Mesos credentials file; ValueError (without any secret) otherwise."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"credentials: invalid json format ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict) or not isinstance(data.get("credentials"), list):
        raise ValueError('credentials: expected {"credentials": [{"principal": ..., "secret": ...}, ...]}')
    pairs: dict[str, str] = {}
    for i, item in enumerate(data["credentials"]):
        if not isinstance(item, dict) or not isinstance(item.get("principal"), str):
            raise ValueError(f"credentials[{i}]: 'principal' (a string) is required")
        secret = item.get("secret", "")
        if not isinstance(secret, str):
            raise ValueError(f"credentials[{i}]: 'secret' must be a string")
        unknown = set(item) - {"principal", "secret"}
        if unknown:
            raise ValueError(f"credentials[{i}]: unknown field(s) {', '.join(sorted(unknown))}")
        principal = item["principal"]
        if not principal or any(ord(c) < 32 or ord(c) == 127 for c in principal + secret):
            raise ValueError(f"credentials[{i}]: empty principal or a control character")
        pairs[principal] = secret  # a later entry wins, as a hashmap put does
    if not pairs:
        raise ValueError("credentials: the file must contain at least one credential")
    return tuple(pairs.items())


def load_credentials(path: str | Path) -> Credentials:
    path = Path(path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_CREDENTIALS_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"cannot read credentials file {path}: {exc.strerror}") from None
    if len(raw) > MAX_CREDENTIALS_BYTES:
        raise ValueError(f"credentials file {path} is larger than {MAX_CREDENTIALS_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"credentials file {path} is not UTF-8") from None
    return parse_credentials(text)


def authenticate(header: str | None, credentials: Credentials) -> str | None:
    """The authenticated principal of an `Authorization` header, or None (answer 401)."""
    if header is None or len(header) > MAX_HEADER_CHARS:
        return None
    parts = header.split(" ")
    if len(parts) != 2 or parts[0] != "Basic":
        return None
    try:
        decoded = base64.b64decode(parts[1], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    fields = decoded.split(":")
    if len(fields) != 2:
        return None
    principal, secret = fields
    known = dict(credentials)
    if principal not in known or not hmac.compare_digest(known[principal].encode(), secret.encode()):
        return None
    return principal


def challenge(realm: str) -> dict[str, str]:
    return {"WWW-Authenticate": f'Basic realm="{realm}"'}
