"""Every error answers JSON ``{"detail": "..."}``, as Scale's REST API does (DRF's format)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """A refusal with a status and a JSON detail, raised anywhere below a handler."""

    status = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadRequest(ApiError):
    status = 400


class InvalidPage(ApiError):
    status = 404  # DRF's answer to a page past the last one

    def __init__(self, detail: str = "Invalid page.") -> None:
        super().__init__(detail)


class PayloadTooLarge(ApiError):
    status = 413


class UnsupportedMediaType(ApiError):
    status = 415


class ServiceUnavailable(ApiError):
    status = 503


def json_error(status: int, detail: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"detail": detail}, status=status, headers=headers)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return json_error(exc.status, exc.detail)
    except ConnectionError:  # the client left (or was dropped for not reading): no one to answer, nothing to log
        return json_error(503, "The connection was lost.")
    except web.HTTPMethodNotAllowed as exc:
        allowed = ", ".join(sorted(exc.allowed_methods))
        return json_error(405, f'Method "{request.method}" not allowed.', {"Allow": allowed})
    except web.HTTPNotFound:
        return json_error(404, "Not found.")
    except web.HTTPException as exc:
        if exc.status >= 400:
            return json_error(exc.status, exc.reason, {k: v for k, v in exc.headers.items() if k == "Allow"})
        raise
    except Exception:
        log.exception("Unhandled error serving %s %s", request.method, request.path)
        return json_error(500, "Internal error; see the scheduler's log.")
