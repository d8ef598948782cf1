"""Scale's (DRF's) page-number pagination: ``page`` and ``page_size`` in, ``count``/``next``/
``previous``/``results`` out. Bad numbers are a 400; a page past the end is DRF's 404 "Invalid page."
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from yarl import URL

from scheduler.api.errors import BadRequest, InvalidPage

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000  # Scale's bound


def int_param(query, name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    if len(raw) > 10 or not raw.isascii() or not raw.isdigit():
        raise BadRequest(f"{name} must be a whole number from {low} to {high}")
    value = int(raw)
    if not low <= value <= high:
        raise BadRequest(f"{name} must be a whole number from {low} to {high}")
    return value


@dataclass(frozen=True, slots=True)
class Page:
    number: int
    size: int

    @classmethod
    def of(cls, request: web.Request) -> Page:
        return cls(
            int_param(request.query, "page", 1, 1, 1_000_000),
            int_param(request.query, "page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE),
        )

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    def check(self, count: int) -> None:
        if self.number > max(1, math.ceil(count / self.size)):
            raise InvalidPage()

    def body(self, request: web.Request, count: int, results: list[Any]) -> dict[str, Any]:
        self.check(count)
        url = URL(request.path).with_query(request.query)  # relative: the Host header is the client's

        def link(number: int) -> str:
            return str(url.update_query(page=number))

        last = max(1, math.ceil(count / self.size))
        return {
            "count": count,
            "next": link(self.number + 1) if self.number < last else None,
            "previous": link(self.number - 1) if self.number > 1 else None,
            "results": results,
        }
