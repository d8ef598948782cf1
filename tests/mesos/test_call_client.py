"""The pipelined call client against servers that answer the ways HTTP/1.1 allows: in order on one
connection, chunked, with interim answers, closing after an answer, never, or with garbage."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from scheduler.mesos.call_client import MAX_HEAD_BYTES, BadAnswer, CallClient, CallTimeout


class RawServer:
    """A TCP server whose answers the test writes itself; it records what each connection received."""

    def __init__(self) -> None:
        self.connections: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.connected = asyncio.Event()
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        async def accept(reader, writer):
            self.connections.append((reader, writer))
            self.connected.set()

        self.server = await asyncio.start_server(accept, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def requests(self, index: int, count: int) -> list[bytes]:
        """Read ``count`` whole requests from connection ``index``."""
        reader, _ = self.connections[index]
        out = []
        for _ in range(count):
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
            )
            out.append(head + await reader.readexactly(length))
        return out

    def write(self, index: int, data: bytes) -> None:
        self.connections[index][1].write(data)

    async def close(self) -> None:
        for _, writer in self.connections:
            writer.close()
        self.server.close()


@pytest.fixture
async def raw():
    server = RawServer()
    url = await server.start()
    client = CallClient(url, headers={"Authorization": "Basic c2NhbGU6cHc="})
    yield server, client
    client.close()
    await server.close()


def answer(status: int, body: bytes = b"", *extra: str) -> bytes:
    head = f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n" + "".join(f"{h}\r\n" for h in extra)
    return head.encode() + b"\r\n" + body


async def test_pipelined_calls_go_out_at_once_and_answers_match_them_in_order(raw):
    server, client = raw
    calls = [asyncio.ensure_future(client.post("/api/v1/scheduler", b'{"n":%d}' % n, {"Mesos-Stream-Id": "s1"}, 10))
             for n in range(3)]  # fmt: skip
    await server.connected.wait()
    requests = await server.requests(0, 3)  # all three before any answer: pipelined
    assert [r.split(b"\r\n\r\n")[1] for r in requests] == [b'{"n":0}', b'{"n":1}', b'{"n":2}']
    head = requests[0].split(b"\r\n\r\n")[0].decode()
    assert head.startswith("POST /api/v1/scheduler HTTP/1.1\r\n")
    for header in ("Host: 127.0.0.1:", "Content-Type: application/json", "Mesos-Stream-Id: s1",
                   "Authorization: Basic c2NhbGU6cHc=", "Content-Length: 7"):  # fmt: skip
        assert header in head
    # All three answers in one write, the last split across two: matched in order.
    data = answer(202) + answer(400, b"Bad ACCEPT: offer gone") + answer(503, b"recovering")
    server.write(0, data[:-5])
    await asyncio.sleep(0)
    server.write(0, data[-5:])
    assert await asyncio.gather(*calls) == [(202, b""), (400, b"Bad ACCEPT: offer gone"), (503, b"recovering")]
    assert len(server.connections) == 1


async def test_chunked_and_interim_answers_are_read(raw):
    server, client = raw
    first = asyncio.ensure_future(client.post("/c", b"{}", {}, 10))
    second = asyncio.ensure_future(client.post("/c", b"{}", {}, 10))
    await server.connected.wait()
    await server.requests(0, 2)
    server.write(0, b"HTTP/1.1 100 Continue\r\n\r\n")
    server.write(
        0, b"HTTP/1.1 409 Conflict\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    )
    server.write(0, answer(202))
    assert await first == (409, b"hello world")
    assert await second == (202, b"")


async def test_a_connection_closed_after_an_answer_fails_the_calls_behind_it_and_the_next_call_reconnects(raw):
    server, client = raw
    calls = [asyncio.ensure_future(client.post("/c", b"{}", {}, 10)) for _ in range(2)]
    await server.connected.wait()
    await server.requests(0, 2)
    server.write(0, answer(202, b"", "Connection: close"))
    assert await calls[0] == (202, b"")
    with pytest.raises(ConnectionError):  # sent, never answered: the caller treats it as unanswered
        await calls[1]
    later = asyncio.ensure_future(client.post("/c", b"{}", {}, 10))
    while len(server.connections) < 2:
        await asyncio.sleep(0.01)
    await server.requests(1, 1)
    server.write(1, answer(202))
    assert await later == (202, b"")


async def test_an_answer_that_never_comes_times_out_and_gives_the_connection_up(raw):
    server, client = raw
    waiting = asyncio.ensure_future(client.post("/c", b"{}", {}, 10))
    await server.connected.wait()
    await server.requests(0, 1)
    [stuck] = client._open
    with pytest.raises(CallTimeout):
        await client.post("/c", b"{}", {}, 0.05)  # behind the first on the one connection
    with pytest.raises(CallTimeout):
        await waiting  # the connection is given up: the calls on it fail with the same reason
    assert stuck.closed and stuck not in client._open


@pytest.mark.parametrize(
    "garbage",
    [
        b"SMTP ready\r\n\r\n",
        b"HTTP/1.1 2x2 Odd\r\n\r\n",
        b"HTTP/1.1 202 Accepted\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 202 Accepted\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 202 Accepted\r\nContent-Length: 99999999\r\n\r\n",
        b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 202 Accepted\r\nX: " + b"a" * (MAX_HEAD_BYTES + 10),
    ],
)
async def test_an_unreadable_answer_fails_the_call_clearly(raw, garbage):
    server, client = raw
    call = asyncio.ensure_future(client.post("/c", b"{}", {}, 10))
    await server.connected.wait()
    await server.requests(0, 1)
    server.write(0, garbage)
    with pytest.raises(BadAnswer):
        await call


async def test_an_answer_nobody_asked_for_closes_the_connection(raw):
    server, client = raw
    call = asyncio.ensure_future(client.post("/c", b"{}", {}, 10))
    await server.connected.wait()
    await server.requests(0, 1)
    server.write(0, answer(202) + answer(202))  # one answer too many
    assert await call == (202, b"")
    for _ in range(100):
        if not client._open:
            break
        await asyncio.sleep(0.01)
    assert client._open == []


async def test_a_header_value_with_a_line_break_is_refused_before_anything_is_sent(raw):
    _server, client = raw
    with pytest.raises(ValueError):
        await client.post("/c", b"{}", {"Mesos-Stream-Id": "s1\r\nX-Injected: 1"}, 10)
    with pytest.raises(ValueError):
        CallClient("http://127.0.0.1:1", headers={"Authorization": "Basic a\nb"})


async def test_a_master_that_refuses_connections_is_an_os_error():
    client = CallClient("http://127.0.0.1:1", connect_timeout_s=2)
    try:
        with pytest.raises(OSError):
            await client.post("/c", b"{}", {}, 5)
    finally:
        client.close()


async def test_a_burst_pipelined_on_four_connections_to_an_aiohttp_server_loses_nothing():
    """Like the simulator (aiohttp answers pipelined requests in order): 2,000 calls at once."""
    seen: list[int] = []
    peers: set = set()

    async def scheduler_api(request: web.Request) -> web.Response:
        body = await request.json()
        seen.append(body["n"])
        peers.add(request.transport.get_extra_info("peername"))
        return web.Response(status=202 if body["n"] % 7 else 400, text="" if body["n"] % 7 else f"bad {body['n']}")

    app = web.Application()
    app.router.add_post("/api/v1/scheduler", scheduler_api)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    client = CallClient(f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/", connections=4)
    try:
        answers = await asyncio.gather(
            *(client.post("/api/v1/scheduler", b'{"n":%d}' % n, {"Mesos-Stream-Id": "s"}, 30) for n in range(2000))
        )
    finally:
        client.close()
        await runner.cleanup()
    assert sorted(seen) == list(range(2000))
    assert answers == [(202, b"") if n % 7 else (400, f"bad {n}".encode()) for n in range(2000)]
    assert 1 <= len(peers) <= 4
