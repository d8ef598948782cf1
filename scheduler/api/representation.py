"""Sending a prepared document: content coding, entity tags and 304, and large bodies in slices.

Bodies are always bytes made once per snapshot; nothing here compresses or serializes. A large body
is written in slices, each after the previous one drained, so a client that does not read holds
at most a slice of our memory, not a whole 11 MB copy (and the write timeout then ends it).
"""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

SLICE_BYTES = 128 * 1024
CACHE_HEADERS = {"Cache-Control": "no-cache", "Vary": "Accept-Encoding"}


def accepted_codings(header: str | None) -> dict[str, float]:
    """``Accept-Encoding`` as {coding: q}; anything malformed counts as not offered."""
    offered: dict[str, float] = {}
    for part in (header or "").split(",")[:32]:  # a hostile header gets no more than 32 looks
        name, _, params = part.partition(";")
        name = name.strip().lower()
        if not name:
            continue
        q = 1.0
        params = params.strip().lower()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                continue
            if not 0.0 <= q <= 1.0:
                continue
        offered[name] = q
    return offered


def choose_coding(header: str | None, available: Iterable[str]) -> str | None:
    """The coding to send (None: the plain body); the first of ``available`` the client takes."""
    offered = accepted_codings(header)
    for coding in available:
        q = offered.get(coding, offered.get("*", 0.0))
        if q > 0.0:
            return coding
    return None


def matches(if_none_match: str | None, tags: Iterable[str]) -> bool:
    """Whether ``If-None-Match`` names one of ``tags`` (weak comparison, as RFC 9110 asks for it)."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    wanted = set()
    for tag in if_none_match.split(",")[:64]:
        tag = tag.strip()
        wanted.add(tag[2:] if tag.startswith("W/") else tag)
    return any(tag in wanted for tag in tags)


def not_modified(etag: str) -> web.Response:
    return web.Response(status=304, headers={"ETag": etag, **CACHE_HEADERS})


async def send(
    request: web.Request, body: bytes, *, etag: str, coding: str | None, content_type: str = "application/json"
) -> web.StreamResponse:
    headers = {"ETag": etag, **CACHE_HEADERS}
    if coding is not None:
        headers["Content-Encoding"] = coding
    if len(body) <= SLICE_BYTES:
        return web.Response(body=body, content_type=content_type, headers=headers)
    response = web.StreamResponse(headers=headers)
    response.content_type = content_type
    response.content_length = len(body)
    try:
        await response.prepare(request)
        if request.method != "HEAD":
            view = memoryview(body)
            for start in range(0, len(body), SLICE_BYTES):
                await response.write(view[start : start + SLICE_BYTES])  # waits while the client lags
        await response.write_eof()
    except ConnectionResetError:  # the client left, or was dropped for not reading: nothing to report
        pass
    return response
