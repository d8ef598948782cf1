"""Compressed, cacheable status: gzip/brotli made once per snapshot, strong ETags, 304, redirects."""

from __future__ import annotations

import asyncio
import gzip
import threading
import time

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from scheduler.api import encodings
from scheduler.api.app import create_app
from scheduler.api.status import Compressed
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
    deadline = time.monotonic() + 5
    while gzip.decompress(await fetch()) != status.snapshot.body:  # the new one once compressed
        assert time.monotonic() < deadline
    await asyncio.gather(*(fetch() for _ in range(5)))
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
    resp = await client.get("/v6/status/", headers={"If-None-Match": plain_tag, "Accept-Encoding": "identity"})
    assert resp.status == 200
    assert resp.headers["ETag"] != plain_tag


class GatedCompression:
    """encodings.compress held until the test opens the gate (on the compression thread)."""

    def __init__(self, real) -> None:
        self.real, self.gate, self.calls = real, threading.Event(), 0

    def __call__(self, body, coding):
        self.calls += 1
        assert self.gate.wait(10)
        return self.real(body, coding)


async def test_while_a_new_snapshot_is_compressed_the_last_compressed_one_is_served(client_for, monkeypatch):
    gated = GatedCompression(encodings.compress)
    gated.gate.set()
    monkeypatch.setattr(encodings, "compress", gated)
    first = StatusSnapshot(time.time(), big_document(100))
    status = FixedStatus(first)
    client = await client_for(status)
    gz = {"Accept-Encoding": "gzip"}
    resp = await client.get("/v6/status/", headers=gz)  # the very first waits for its compression
    assert resp.headers["ETag"] == first.etag_for("gzip")
    gated.gate.clear()
    second = StatusSnapshot(first.generated_at + 1, big_document(200))
    status.snapshot = second
    for _ in range(3):  # the gate is shut: none of these can have waited for the new compression
        resp = await client.get("/v6/status/", headers=gz)
        assert resp.status == 200 and resp.headers["ETag"] == first.etag_for("gzip")
        assert gzip.decompress(await resp.read()) == first.body
    resp = await client.get("/v6/status/", headers={**gz, "If-None-Match": first.etag_for("gzip")})
    assert resp.status == 304  # what would be sent is what the client has
    resp = await client.get("/v6/status/", headers={"Accept-Encoding": "identity"})
    assert resp.headers["ETag"] == second.etag  # plain needs no compression: the newest at once
    gated.gate.set()
    deadline = time.monotonic() + 5
    while (await client.get("/v6/status/", headers=gz)).headers["ETag"] != second.etag_for("gzip"):
        assert time.monotonic() < deadline
    assert gated.calls == 2  # one compression per snapshot, however many asked meanwhile


async def test_a_last_compressed_snapshot_that_is_not_usable_is_not_served_the_request_waits(monkeypatch):
    gated = GatedCompression(encodings.compress)
    gated.gate.set()
    monkeypatch.setattr(encodings, "compress", gated)
    compressed = Compressed()
    old = StatusSnapshot(time.time(), big_document(100))
    assert (await compressed.body_for(old, "gzip", usable=lambda s: True))[0] is old
    gated.gate.clear()
    new = StatusSnapshot(old.generated_at + 1, big_document(200))
    choice = asyncio.ensure_future(compressed.body_for(new, "gzip", usable=lambda s: s is not old))
    await asyncio.sleep(0)  # body_for has run up to its first wait; had it chosen the old one, it is done
    assert not choice.done()
    gated.gate.set()
    sent, body = await choice
    assert sent is new and gzip.decompress(body) == new.body
    # Usable, the old one would have been sent at once.
    newer = StatusSnapshot(new.generated_at + 1, big_document(300))
    gated.gate.clear()
    sent, _ = await compressed.body_for(newer, "gzip", usable=lambda s: True)
    assert sent is new
    gated.gate.set()
    deadline = time.monotonic() + 5
    while newer.encoded_if_ready("gzip") is None:  # compressed in the background all the same
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)


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
