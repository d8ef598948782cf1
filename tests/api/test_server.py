"""Connection limits on the API's socket: a cap that evicts idle connections before refusing, 503 JSON
when every connection is busy, header, keep-alive and write timeouts, the descriptor limit, quiet logs."""

from __future__ import annotations

import asyncio
import json
import logging
import socket

import pytest
from aiohttp import web

from scheduler.api import server
from scheduler.api.server import ConnectionLimits, RateLimitedLog, raise_open_files_limit, start_api

BIG = b"x" * (8 * 1024 * 1024)


@pytest.fixture(autouse=True)
def fast_sweeps(monkeypatch):
    monkeypatch.setattr(server, "SWEEP_INTERVAL_S", 0.05)


@pytest.fixture
async def serve():
    runners = []

    async def make(limits: ConnectionLimits, gate: asyncio.Event | None = None):
        async def livez(_request):
            return web.json_response({"status": "alive"})

        async def slow(_request):
            await gate.wait()
            return web.json_response({"slow": True})

        async def big(request):
            from scheduler.api.representation import send

            return await send(request, BIG, etag='"big"', coding=None)

        app = web.Application()
        app.router.add_get("/livez", livez)
        app.router.add_get("/slow", slow)
        app.router.add_get("/big", big)
        runner, url = await start_api(app, "127.0.0.1", 0, limits)
        runners.append(runner)
        site = next(iter(runner.sites))
        return site, site.port

    yield make
    for runner in runners:
        await runner.cleanup()


async def get(port: int, path: str) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


async def closed_by_server(reader: asyncio.StreamReader, timeout: float = 5.0) -> bool:
    try:
        return await asyncio.wait_for(reader.read(), timeout) == b""
    except ConnectionResetError:
        return True


async def test_idle_connections_make_room_for_a_real_request(serve):
    site, port = await serve(ConnectionLimits(max_connections=5, header_timeout_s=60))
    idle = []
    for _ in range(8):  # more than the cap; each starts a request head and never finishes it
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /livez HTTP/1.1\r\n")  # (silent ones never even leave the kernel: TCP_DEFER_ACCEPT)
        idle.append((reader, writer))
    while len(site.pool.open) < 5:
        await asyncio.sleep(0.01)
    for _ in range(3):
        assert await get(port, "/livez") == (200, b'{"status": "alive"}')
    assert len(site.pool.open) <= 5
    for _, writer in idle:
        writer.close()


async def test_a_503_json_when_every_connection_is_busy(serve, caplog):
    gate = asyncio.Event()
    site, port = await serve(ConnectionLimits(max_connections=3), gate)
    busy = [asyncio.create_task(get(port, "/slow")) for _ in range(3)]
    deadline = asyncio.get_running_loop().time() + 5
    while len(site.pool.open) < 3 or not all(c.busy() for c in site.pool.open):
        assert asyncio.get_running_loop().time() < deadline, "requests in progress must count as busy"
        await asyncio.sleep(0.01)
    with caplog.at_level(logging.WARNING):
        answers = [await get(port, "/livez") for _ in range(20)]
    assert {status for status, _ in answers} == {503}
    assert json.loads(answers[0][1]) == {"detail": "Too many connections to the API; try again shortly."}
    assert len([r for r in caplog.records if "refused" in r.getMessage()]) == 1  # not one line per refusal
    gate.set()
    assert [status for status, _ in await asyncio.gather(*busy)] == [200, 200, 200]
    assert (await get(port, "/livez"))[0] == 200


async def test_a_connection_that_sends_no_request_is_closed(serve):
    _site, port = await serve(ConnectionLimits(header_timeout_s=0.2))
    silent, _ = await asyncio.open_connection("127.0.0.1", port)
    trickle, trickle_writer = await asyncio.open_connection("127.0.0.1", port)
    trickle_writer.write(b"GET /livez HTTP/1.1\r\nHost: t\r\n")  # never finishes its head
    assert await closed_by_server(silent)
    assert await closed_by_server(trickle)


async def test_an_idle_keep_alive_connection_is_closed(serve):
    _site, port = await serve(ConnectionLimits(keepalive_timeout_s=0.3))
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /livez HTTP/1.1\r\nHost: t\r\n\r\n")
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
    await reader.readexactly(len(b'{"status": "alive"}'))
    assert await closed_by_server(reader)


async def test_a_client_that_does_not_read_is_dropped_after_the_write_timeout(serve):
    site, port = await serve(ConnectionLimits(write_timeout_s=0.3))
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills at once; never read
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    await asyncio.get_running_loop().sock_sendall(sock, b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
    deadline = asyncio.get_running_loop().time() + 10
    while not site.pool.open:  # accepted
        await asyncio.sleep(0.01)
    while site.pool.open:  # then dropped by the sweep, not by the client
        assert asyncio.get_running_loop().time() < deadline, "the stalled connection was kept"
        await asyncio.sleep(0.05)
    sock.close()
    assert await get(port, "/livez") == (200, b'{"status": "alive"}')


async def test_a_slow_reader_that_reads_is_not_dropped(serve):
    _site, port = await serve(ConnectionLimits(write_timeout_s=0.3))
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=128 * 1024)
    writer.write(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
    head = await reader.readuntil(b"\r\n\r\n")
    received, started = 0, asyncio.get_running_loop().time()
    while received < len(BIG):  # slowly, but always reading
        chunk = await reader.read(64 * 1024)
        assert chunk, "dropped while reading"
        received += len(chunk)
        await asyncio.sleep(0.01)
    assert asyncio.get_running_loop().time() - started > 0.6  # the answer took longer than the timeout
    assert head.startswith(b"HTTP/1.1 200") and received == len(BIG)
    writer.close()


def test_open_files_limit_raised_to_the_hard_limit(monkeypatch):
    calls = []
    monkeypatch.setattr(server.resource, "getrlimit", lambda _which: (1024, 65536))
    monkeypatch.setattr(server.resource, "setrlimit", lambda which, limits: calls.append(limits))
    assert raise_open_files_limit() == (1024, 65536)
    assert calls == [(65536, 65536)]


def test_rate_limited_log_counts_what_it_did_not_print(caplog):
    now = [0.0]
    limited = RateLimitedLog("%d accept errors: %s", clock=lambda: now[0])
    with caplog.at_level(logging.WARNING):
        for _ in range(1000):
            limited.hit("EMFILE")
            now[0] += 0.001
        limited.hit("EMFILE")
    assert [r.getMessage() for r in caplog.records] == ["1 accept errors: EMFILE", "1000 accept errors: EMFILE"]


async def test_accept_errors_are_logged_once_a_second(caplog):
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    try:
        server.quiet_accept_errors(loop)
        with caplog.at_level(logging.WARNING):
            for _ in range(500):
                loop.call_exception_handler(
                    {
                        "message": "socket.accept() out of system resource",
                        "exception": OSError(24, "Too many open files"),
                    }
                )
        assert len(caplog.records) == 1
    finally:
        loop.set_exception_handler(previous)


async def test_malformed_requests_are_answered_400_and_logged_once_a_second(serve, caplog):
    _site, port = await serve(ConnectionLimits())
    with caplog.at_level(logging.DEBUG, logger="aiohttp.server"):
        for _ in range(50):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /livez HTTP/1.1\r\nHost: t\r\nX-Bad: \x00\r\n\r\n")
            answer = await asyncio.wait_for(reader.read(), 5)
            writer.close()
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.split(b" ")[1] == b"400" and b"application/json" in head
            assert json.loads(body) == {"detail": "Invalid header value char"}
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 1 and "malformed request" in lines[0].getMessage()


async def test_the_aiohttp_internals_relied_on_are_there():
    # server.py reads whether a request is in progress and builds aiohttp's handler with its settings;
    # an aiohttp without these would silently treat busy connections as idle.
    from aiohttp.web_protocol import RequestHandler

    assert "_request_in_progress" in RequestHandler.__slots__
    assert hasattr(web.Server(lambda request: None), "_kwargs")
