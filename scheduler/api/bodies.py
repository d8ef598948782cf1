"""Strict reading of request bodies: a bounded JSON object with known fields of the right types.

Anything else is refused whole (400 with a JSON detail naming the field), before any write.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from aiohttp import web

from scheduler.api.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

MAX_BODY_BYTES = 16 * 1024


def boolean(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise BadRequest(f"{name} must be true or false")
    return value


def integer(low: int, high: int) -> Callable[[str, Any], int]:
    def check(name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise BadRequest(f"{name} must be a whole number from {low} to {high}")
        return value

    return check


def choice(*choices: str) -> Callable[[str, Any], str]:
    def check(name: str, value: Any) -> str:
        if not isinstance(value, str) or value not in choices:
            raise BadRequest(f"{name} must be one of {', '.join(choices)}")
        return value

    return check


def text(max_length: int, *, nullable: bool = False) -> Callable[[str, Any], str | None]:
    def check(name: str, value: Any) -> str | None:
        if value is None and nullable:
            return None
        if not isinstance(value, str) or len(value) > max_length:
            raise BadRequest(f"{name} must be a string of at most {max_length} characters")
        # No control characters (log and terminal forgery) and no lone surrogates (the database refuses them).
        if any(unicodedata.category(c) in ("Cc", "Cs") for c in value):
            raise BadRequest(f"{name} must not contain control characters")
        return value

    return check


async def read_object(request: web.Request, fields: Mapping[str, Callable[[str, Any], Any]]) -> dict[str, Any]:
    """The body's fields, each checked; refuses an empty object as Scale does."""
    content_type = request.headers.get("Content-Type")
    if content_type is not None and request.content_type != "application/json":
        raise UnsupportedMediaType("the body must be application/json")
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body must be at most {MAX_BODY_BYTES} bytes")
    raw = await request.content.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body must be at most {MAX_BODY_BYTES} bytes")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("the body must be a JSON object") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    unknown = sorted(name for name in data if name not in fields)
    if unknown:
        shown = ", ".join(repr(name[:40]) for name in unknown[:5])
        raise BadRequest(f"Unexpected fields: {shown}; allowed: {', '.join(fields)}")
    if not data:
        raise BadRequest("No fields specified for update.")
    return {name: fields[name](name, value) for name, value in data.items()}
