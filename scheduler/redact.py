"""Keeping secrets out of logs, errors and the status: URL passwords and configured tokens."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit, urlunsplit

MASK = "****"

# user:password@ inside anything that looks like a URL, even one urlsplit would reject. The password
# runs to the authority's *last* @ (``u:p@ss@h`` has the password ``p@ss``), as urlsplit reads it.
_USERINFO = re.compile(
    r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<user>[^:/@\s]*):(?P<password>[^\s/?#]*)@(?=[^\s@/?#]*(?:[/?#\s]|$))"
)


def url_passwords(url: str) -> list[str]:
    """The password of a URL as written and percent-decoded (both must be masked); [] if none."""
    found = [m["password"] for m in _USERINFO.finditer(url) if m["password"]]
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password:
        found.append(password)
    return sorted({form for p in found for form in (p, unquote(p)) if form}, key=len, reverse=True)


def mask_url(url: str) -> str:
    """The URL with its password replaced by ****; the user and host stay visible."""
    try:
        parts = urlsplit(url)
        if parts.password is not None:
            host = parts.hostname or ""
            if parts.port is not None:
                host = f"{host}:{parts.port}"
            netloc = f"{parts.username or ''}:{MASK}@{host}"
            return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        pass
    return _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", url)


def mask_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Text with URL passwords and every given secret value replaced by ****."""
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in the formatted message of every record."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_text(message, self.secrets)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text, self.secrets)
        if masked != message:
            record.msg, record.args = masked, None
        return True
