"""The dashboard's files: served at / with a strict CSP, no inline code, shipped as package data."""

from __future__ import annotations

import ast
import fnmatch
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from scheduler.api import dashboard
from scheduler.api.app import create_app

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = Path(dashboard.__file__).parent


@pytest.fixture
async def client():
    client = TestClient(TestServer(create_app()))
    await client.start_server()
    yield client
    await client.close()


@pytest.mark.parametrize(
    "path, content_type",
    [
        ("/", "text/html"),
        ("/dashboard/dashboard.js", "text/javascript"),
        ("/dashboard/grid.js", "text/javascript"),
        ("/dashboard/util.js", "text/javascript"),
        ("/dashboard/dashboard.css", "text/css"),
        ("/dashboard/icon.svg", "image/svg+xml"),
    ],
)
async def test_each_file_is_served_with_a_strict_policy(client, path, content_type):
    resp = await client.get(path)
    assert resp.status == 200
    assert resp.content_type == content_type
    csp = resp.headers["Content-Security-Policy"]
    assert csp.startswith("default-src 'self'")
    assert "unsafe" not in csp and "*" not in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert await resp.read() == (DASHBOARD_DIR / dashboard.FILES[path][0]).read_bytes()


async def test_a_repeated_request_with_the_etag_is_304(client):
    first = await client.get("/dashboard/dashboard.js")
    etag = first.headers["ETag"]
    again = await client.get("/dashboard/dashboard.js", headers={"If-None-Match": etag})
    assert again.status == 304
    assert await again.read() == b""
    other = await client.get("/dashboard/dashboard.js", headers={"If-None-Match": '"other"'})
    assert other.status == 200


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.script_text = ""
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.script_text += data


def test_the_page_has_no_inline_code_and_loads_only_its_own_files():
    parser = _Tags()
    parser.feed((DASHBOARD_DIR / "index.html").read_text())
    assert parser.script_text.strip() == ""
    for tag, attrs in parser.tags:
        assert "style" not in attrs, tag
        assert not any(name.startswith("on") for name in attrs), tag
        for name in ("src", "href"):
            if name in attrs:
                assert attrs[name] in dashboard.FILES, attrs[name]
    assert ("script", {"type": "module", "src": "/dashboard/dashboard.js"}) in parser.tags


def test_every_module_the_scripts_import_is_served():
    imported = set()
    for name, _ in dashboard.FILES.values():
        if name.endswith(".js"):
            text = (DASHBOARD_DIR / name).read_text()
            imported.update(re.findall(r'^import .* from "\./([\w.]+)";$', text, re.M))
    assert imported == {"grid.js", "util.js"}
    for module in imported:
        assert f"/dashboard/{module}" in dashboard.FILES, module


@pytest.mark.parametrize("name", ["dashboard.js", "grid.js", "util.js"])
def test_the_scripts_never_write_markup(name):
    # Every server string reaches the page as text: no innerHTML, outerHTML, insertAdjacentHTML or eval.
    script = (DASHBOARD_DIR / name).read_text()
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function", script)


def test_setup_ships_every_dashboard_file_as_package_data():
    tree = ast.parse((ROOT / "setup.py").read_text())
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "setup")
    package_data = ast.literal_eval(next(k.value for k in call.keywords if k.arg == "package_data"))
    patterns = package_data["scheduler.api.dashboard"]
    for name, _ in dashboard.FILES.values():
        assert any(fnmatch.fnmatch(name, p) for p in patterns), name
