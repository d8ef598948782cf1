"""HTTP details of the master's endpoints: media types, plain-text answers, principal checks."""

from __future__ import annotations

import orjson
from aiohttp import web

APPLICATION_JSON = "application/json"
APPLICATION_PROTOBUF = "application/x-protobuf"
STREAM_ID_HEADER = "Mesos-Stream-Id"


def text(status: int, message: str = "", headers: dict | None = None) -> web.Response:
    return web.Response(status=status, text=message, content_type="text/plain", charset="utf-8", headers=headers)


def accepts(header: str | None, media_type: str) -> bool:
    """libprocess Request::acceptsMediaType: no header accepts everything; q=0 refuses."""
    if header is None:
        return True
    main, _, sub = media_type.partition("/")
    for part in header.split(","):
        pieces = [p.strip() for p in part.split(";")]
        candidate = pieces[0].lower()
        q = 1.0
        for param in pieces[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q <= 0:
            continue
        if candidate in ("*/*", f"{main}/*", media_type):
            return True
    return False


def principal_mismatch(principal: str, framework_principal: str) -> str:
    return (
        f"Authenticated principal '{principal}' does not match principal '{framework_principal}' set in `FrameworkInfo`"
    )


def principal_error(call: dict, principal: str | None) -> str | None:
    """validation::scheduler::call::validate, SUBSCRIBE: the principal in FrameworkInfo, if any, must match."""
    if principal is None or call["type"] != "SUBSCRIBE":
        return None
    claimed = call["subscribe"]["framework_info"].get("principal")
    if claimed is not None and claimed != principal:
        return principal_mismatch(principal, claimed)
    return None


def json_response(data, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(data), content_type=APPLICATION_JSON)
