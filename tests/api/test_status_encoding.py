"""Compressed, cacheable status: gzip/brotli made once per snapshot, strong ETags, 304, redirects."""

from __future__ import annotations

import asyncio
import gzip
import time

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from scheduler.api import encodings
from scheduler.api.app import create_app
from scheduler.status.snapshot import StatusSnapshot


class FixedStatus:
    def __init__(self, snapshot=None, freshness_s=12.0):
        self.snapshot, self.freshness_s = snapshot, freshness_s

    def current(self):
        return self.snapshot


def big_document(nodes=3000) -> bytes:
    return orjson.dumps(
        {"timestamp": "now", "nodes": [{"id": i, "hostname": f"host-{i}.example"} for i in range(nodes)]}
    )


@pytest.fixture
async def client_for():
    clients = []

    async def make(status):
        # No automatic decompression: the tests look at the bytes on the wire.
        client = TestClient(TestServer(create_app(status=status)), auto_decompress=False)
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


async def test_gzip_when_asked_plain_otherwise(client_for):
    body = big_document()
    client = await client_for(FixedStatus(StatusSnapshot(time.time(), body)))
    resp = await client.get("/v6/status/", headers={"Accept-Encoding": "gzip"})
    assert resp.status == 200
    assert resp.headers["Content-Encoding"] == "gzip"
    assert resp.headers["Vary"] == "Accept-Encoding"
    assert resp.headers["Cache-Control"] == "no-cache"
    compressed = await resp.read()
    assert gzip.decompress(compressed) == body
    assert len(compressed) * 5 < len(body)
    for header in ("identity", "gzip;q=0", "deflate", "gzip;q=bogus"):
        resp = await client.get("/v6/status/", headers={"Accept-Encoding": header})
        assert "Content-Encoding" not in resp.headers, header
        assert await resp.read() == body
        assert resp.headers["Vary"] == "Accept-Encoding"


async def test_brotli_when_asked_and_installed(client_for):
    brotli = pytest.importorskip("brotli")
    body = big_document()
    client = await client_for(FixedStatus(StatusSnapshot(time.time(), body)))
    resp = await client.get("/v6/status/", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert resp.headers["Content-Encoding"] == "br"
    assert brotli.decompress(await resp.read()) == body


async def test_compressed_once_per_snapshot_however_many_ask(client_for, monkeypatch):
    calls = []
    real = encodings.compress
    monkeypatch.setattr(encodings, "compress", lambda body, coding: calls.append(coding) or real(body, coding))
    status = FixedStatus(StatusSnapshot(time.time(), big_document()))
    client = await client_for(status)

    async def fetch():
        async with client.get("/v6/status/", headers={"Accept-Encoding": "gzip"}) as resp:
            return await resp.read()

    bodies = await asyncio.gather(*(fetch() for _ in range(20)))
    assert len(set(bodies)) == 1
    assert calls == ["gzip"]
    status.snapshot = StatusSnapshot(time.time() + 1, big_document(100))
    await fetch()
    await fetch()
    assert calls == ["gzip", "gzip"]


async def test_strong_etag_per_snapshot_and_304(client_for):
    first = StatusSnapshot(time.time(), big_document(100))
    status = FixedStatus(first)
    client = await client_for(status)
    resp = await client.get("/v6/status/")
    plain_tag = resp.headers["ETag"]
    assert plain_tag.startswith('"') and plain_tag.endswith('"')
    resp = await client.get("/v6/status/", headers={"Accept-Encoding": "gzip"})
    gzip_tag = resp.headers["ETag"]
    assert gzip_tag != plain_tag  # different bytes, different strong tags
    for tag, encoding in ((plain_tag, "identity"), (gzip_tag, "gzip"), (f'"other", W/{plain_tag}', "gzip")):
        resp = await client.get("/v6/status/", headers={"If-None-Match": tag, "Accept-Encoding": encoding})
        assert resp.status == 304, tag
        assert await resp.read() == b""
        assert resp.headers["Cache-Control"] == "no-cache"
    status.snapshot = StatusSnapshot(first.generated_at + 1, first.body)
    resp = await client.get("/v6/status/", headers={"If-None-Match": plain_tag})
    assert resp.status == 200
    assert resp.headers["ETag"] != plain_tag


async def test_stale_status_is_503_even_with_a_matching_tag(client_for):
    old = StatusSnapshot(time.time() - 60, b"{}")
    client = await client_for(FixedStatus(old))
    resp = await client.get("/v6/status/", headers={"If-None-Match": old.etag})
    assert resp.status == 503


async def test_large_body_arrives_whole_and_head_has_its_length(client_for):
    body = big_document(20000)
    assert len(body) > 4 * 128 * 1024
    client = await client_for(FixedStatus(StatusSnapshot(time.time(), body)))
    resp = await client.get("/v6/status/", headers={"Accept-Encoding": "identity"})
    assert int(resp.headers["Content-Length"]) == len(body)
    assert await resp.read() == body
    resp = await client.head("/v6/status/", headers={"Accept-Encoding": "identity"})
    assert resp.status == 200
    assert int(resp.headers["Content-Length"]) == len(body)


@pytest.mark.parametrize(
    "path, location",
    [
        ("/v6/status", "/v6/status/"),
        ("/v6/status?a=1&b=2", "/v6/status/?a=1&b=2"),
        ("/v7/version", "/v7/version/"),
        ("/api/v6/version", "/api/v6/version/"),
    ],
)
async def test_slashless_paths_redirect_permanently(client_for, path, location):
    client = await client_for(FixedStatus(StatusSnapshot(time.time(), b"{}")))
    resp = await client.get(path, allow_redirects=False)
    assert resp.status == 301
    assert resp.headers["Location"] == location


async def test_unknown_slashless_path_is_still_404(client_for):
    client = await client_for(FixedStatus(None))
    resp = await client.get("/v6/nothing", allow_redirects=False)
    assert resp.status == 404
    assert await resp.json() == {"detail": "Not found."}


@pytest.mark.parametrize("path", ["/api/v6/status/", "/api/v7/status/", "/api/v6/version/"])
async def test_api_prefix_serves_the_same(client_for, path):
    body = b'{"timestamp":"now"}'
    client = await client_for(FixedStatus(StatusSnapshot(time.time(), body)))
    resp = await client.get(path)
    assert resp.status == 200
