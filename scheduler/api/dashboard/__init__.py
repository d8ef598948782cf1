"""The dashboard at ``/``: one HTML page, its script modules and style, shipped as package data.

The files are read once at start-up and served from memory with a strict Content-Security-Policy
(scripts, styles and connections from this origin only, no inline code), so a hostname or message
from the cluster can never run as script even if the page had a bug that let it into the markup.
"""

from __future__ import annotations

import hashlib
from importlib import resources

from aiohttp import web

FILES = {  # URL path -> (file, content type)
    "/": ("index.html", "text/html; charset=utf-8"),
    "/dashboard/dashboard.js": ("dashboard.js", "text/javascript; charset=utf-8"),
    "/dashboard/grid.js": ("grid.js", "text/javascript; charset=utf-8"),
    "/dashboard/util.js": ("util.js", "text/javascript; charset=utf-8"),
    "/dashboard/dashboard.css": ("dashboard.css", "text/css; charset=utf-8"),
    "/dashboard/icon.svg": ("icon.svg", "image/svg+xml"),
}
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def read_file(name: str) -> bytes:
    return resources.files(__name__).joinpath(name).read_bytes()


def file_handler(body: bytes, content_type: str):
    etag = '"%s"' % hashlib.sha256(body).hexdigest()[:32]  # noqa: UP031
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-cache", "ETag": etag}

    async def get_file(request: web.Request) -> web.Response:
        if etag in request.headers.get("If-None-Match", ""):
            return web.Response(status=304, headers=headers)
        return web.Response(body=body, headers={**headers, "Content-Type": content_type})

    return get_file


def add_dashboard_routes(app: web.Application) -> None:
    for path, (name, content_type) in FILES.items():
        app.router.add_get(path, file_handler(read_file(name), content_type))
