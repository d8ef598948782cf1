"""Bearer tokens for the API: who may change things (and, if asked, read).

``API_TOKENS_FILE`` lists one token per line, optionally followed by a space and a name for the log;
``#`` starts a comment. The file is read again whenever it changes (checked on each use), so tokens
are added or revoked without a restart. A presented token is compared with every listed one in
constant time; only the name is ever logged.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from scheduler.api.errors import json_error

log = logging.getLogger(__name__)

MIN_TOKEN_LENGTH = 16
MAX_TOKEN_LENGTH = 512
TOKEN_CHARS = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no spaces
NAME_CHARS = re.compile(r"[A-Za-z0-9@._:/+-]{1,64}")
API_PATH = re.compile(r"^(/api)?/v[67]/")
READ_METHODS = ("GET", "HEAD", "OPTIONS")

# Who made a request, by the name of its token: the handlers log changes with it.
TOKEN_NAME = web.RequestKey("token_name", str) if hasattr(web, "RequestKey") else "token_name"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def usable(token: str) -> bool:
    return bool(TOKEN_CHARS.fullmatch(token)) and MIN_TOKEN_LENGTH <= len(token) <= MAX_TOKEN_LENGTH


def parse_tokens(text: str, source: str) -> dict[bytes, str]:
    """{token: name}; lines that cannot be a token are skipped with a warning naming the line only."""
    tokens: dict[bytes, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        token, _, name = line.partition(" ")
        name = name.strip()
        if not usable(token):
            log.warning(
                "%s line %d: not a usable token (%d to %d printable characters); skipped",
                source,
                number,
                MIN_TOKEN_LENGTH,
                MAX_TOKEN_LENGTH,
            )
            continue
        tokens[token.encode()] = name if NAME_CHARS.fullmatch(name) else f"line {number}"
    return tokens


class TokenFile:
    def __init__(self, path: str | None, also: Any = None) -> None:
        self.path = path
        self.also = also  # another source with ``.tokens`` (Vault), consulted as well
        self._signature: tuple | None = None
        self._tokens: dict[bytes, str] = {}
        self._problem: str | None = None

    def _refresh(self) -> None:
        if self.path is None:
            return
        try:
            stat = os.stat(self.path)
            signature = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
            if signature == self._signature:
                return
            with open(self.path, encoding="utf-8") as handle:
                text = handle.read(1024 * 1024)
        except (OSError, UnicodeDecodeError) as exc:
            problem = f"cannot read {self.path}: {getattr(exc, 'strerror', None) or type(exc).__name__}"
            if problem != self._problem:
                log.error("API tokens: %s; every write is refused until it can be read", problem)
            self._problem, self._tokens, self._signature = problem, {}, None
            return
        self._tokens = parse_tokens(text, self.path)
        self._signature, self._problem = signature, None
        log.info("API tokens: %d read from %s", len(self._tokens), self.path)

    def name_of(self, presented: str) -> str | None:
        """The name of the listed token equal to ``presented``, or None."""
        self._refresh()
        candidate = presented.encode("utf-8", "replace")
        found = None
        listed = list(self._tokens.items()) + (list(self.also.tokens.items()) if self.also is not None else [])
        for token, name in listed:  # every one compared: the time says nothing
            if hmac.compare_digest(candidate, token):
                found = name
        return found


def presented_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return token


def unauthorized(detail: str, presented: bool) -> web.Response:
    challenge = 'Bearer realm="scale-scheduler"' + (', error="invalid_token"' if presented else "")
    return json_error(401, detail, {"WWW-Authenticate": challenge})


def auth_middleware(tokens: TokenFile, read_token_required: bool):
    """Writes to the v6 API need a listed token; reads too when ``read_token_required``."""

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        needs_token = API_PATH.match(request.path) and (request.method not in READ_METHODS or read_token_required)
        # Unknown paths and methods answer their 404/405 as usual.
        if needs_token and request.match_info.http_exception is None:
            token = presented_token(request)
            if token is None:
                return unauthorized("Authentication credentials were not provided.", presented=False)
            name = tokens.name_of(token)
            if name is None:
                return unauthorized("Invalid token.", presented=True)
            request[TOKEN_NAME] = name
        return await handler(request)

    return check
