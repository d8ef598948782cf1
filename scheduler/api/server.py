"""The API's listening socket, with limits that keep it answering under hostile or broken clients.

- **A cap on open connections** (``API_MAX_CONNECTIONS``). When it is reached, a new connection
  first takes the place of the oldest idle one (connected, no request in progress, nothing left to
  send), so a well-behaved client still gets in past a crowd of idle sockets; only when every
  connection is busy is it answered ``503`` with a JSON detail and closed.
- **Idle timeouts.** A new connection must send a request within ``API_HEADER_TIMEOUT``; between
  requests a connection is kept ``API_KEEPALIVE_TIMEOUT``.
- **A write timeout** (``API_WRITE_TIMEOUT``): an answer that has waited that long for a client that
  does not read (its send buffer full, nothing drained) is abandoned and the connection closed.
  Large bodies are written in slices (representation.py), so such a client holds one slice of
  memory, never a whole document.
- **Descriptors**: the soft ``RLIMIT_NOFILE`` is raised to the hard limit at start.
- **Quiet logs**: refusals, evictions and accept errors are logged at most once a second, counted.

aiohttp's own request handler does the HTTP; each connection's protocol is wrapped to count it and
to watch its writes. A sweep once a second enforces the timeouts.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import socket
import struct
import time
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler

log = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 1.0
BACKLOG = 1024
REFUSAL_LINGER_S = 1.0
REFUSAL_BODY = orjson.dumps({"detail": "Too many connections to the API; try again shortly."})
REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
    b"Connection: close\r\nContent-Length: " + str(len(REFUSAL_BODY)).encode() + b"\r\n\r\n" + REFUSAL_BODY
)


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    max_connections: int = 1000
    keepalive_timeout_s: float = 15.0
    header_timeout_s: float = 10.0
    write_timeout_s: float = 30.0

    @classmethod
    def from_settings(cls, settings: Any) -> ConnectionLimits:
        return cls(
            settings.api_max_connections,
            settings.api_keepalive_timeout_s,
            settings.api_header_timeout_s,
            settings.api_write_timeout_s,
        )


def raise_open_files_limit() -> tuple[int, int]:
    """Soft RLIMIT_NOFILE up to the hard limit; returns (before, after)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            log.warning("Cannot raise the open files limit from %d to %d: %s", soft, target, exc)
            return soft, soft
    return soft, max(soft, target)


def bytes_acked(transport: asyncio.BaseTransport) -> int | None:
    """How many bytes the peer has acknowledged (Linux TCP_INFO); None where it cannot be read.

    The peer's kernel acknowledges what fits in its receive buffer whether or not its program reads;
    once that is full and nothing is read, the count stops: the sign of a client that does not read.
    """
    sock = transport.get_extra_info("socket")
    if sock is None or not hasattr(socket, "TCP_INFO"):
        return None
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    except OSError:
        return None
    return struct.unpack_from("Q", info, 120)[0] if len(info) >= 128 else None  # tcpi_bytes_acked


class RateLimitedLog:
    """One line a second at most, with the count of what happened meanwhile."""

    def __init__(self, message: str, clock=time.monotonic) -> None:
        self.message, self.clock = message, clock
        self.count = 0
        self.last = float("-inf")

    def hit(self, *args: Any) -> None:
        self.count += 1
        now = self.clock()
        if now - self.last >= 1.0:
            log.warning(self.message, self.count, *args)
            self.count, self.last = 0, now


class JsonErrorsHandler(RequestHandler):
    """aiohttp's handler, but a request it cannot parse is answered like every other error: JSON
    ``{"detail": ...}`` (the first line of the parser's message, never the request's bytes)."""

    def handle_error(self, request, status: int = 500, exc=None, message=None):  # type: ignore[override]
        plain = super().handle_error(request, status, exc, message)
        detail = (message or plain.reason or "Bad request").splitlines()[0].strip().rstrip(":") or plain.reason
        answer = web.Response(status=status, body=orjson.dumps({"detail": detail}), content_type="application/json")
        answer.force_close()
        return answer


def handler_factory(server: web.Server):
    """aiohttp's own handler with its settings, as JsonErrorsHandler."""
    settings = getattr(server, "_kwargs", None)
    if settings is None:  # pragma: no cover - an aiohttp without it: plain errors, still limited
        return server
    loop = asyncio.get_running_loop()
    return lambda: JsonErrorsHandler(server, loop=loop, **settings)


class Connection(asyncio.Protocol):
    """One client connection: aiohttp's handler inside, counted and watched by the pool."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool
        self.inner: Any = None  # aiohttp's RequestHandler, once admitted
        self.refused = False
        self.transport: asyncio.Transport | None = None
        self.opened = pool.clock()
        self.last_busy: float | None = None  # the last sweep that saw a request or unsent bytes
        self.last_progress = self.opened  # the last time its answer moved on (or it had none pending)
        self.progress_mark: object = None  # what showed it: bytes acknowledged, or our buffer's size

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if not self.pool.admit(self):
            self.refused = True
            transport.write(REFUSAL)  # type: ignore[attr-defined]
            # Closing with the request unread would reset the connection before the client reads the
            # 503: end our side, drop what it sends, and close a moment later at the latest.
            if transport.can_write_eof():  # type: ignore[attr-defined]
                transport.write_eof()  # type: ignore[attr-defined]
            asyncio.get_running_loop().call_later(REFUSAL_LINGER_S, transport.close)
            return
        self.inner = self.pool.make_handler()
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self.inner is not None:
            self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.inner is not None else None  # refused: close now

    def connection_lost(self, exc: Exception | None) -> None:
        self.pool.release(self)
        if self.inner is not None:
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.last_progress = self.pool.clock()
        if self.inner is not None:
            self.inner.resume_writing()

    # state, for the pool
    def busy(self) -> bool:
        in_request = bool(getattr(self.inner, "_request_in_progress", False))
        return in_request or self.unsent() > 0

    def unsent(self) -> int:
        transport = self.transport
        return transport.get_write_buffer_size() if transport is not None and not transport.is_closing() else 0


class ConnectionPool:
    def __init__(self, limits: ConnectionLimits, make_handler, clock=time.monotonic) -> None:
        self.limits, self.make_handler, self.clock = limits, make_handler, clock
        self.open: dict[Connection, None] = {}  # insertion-ordered: the oldest first
        self.refused = RateLimitedLog("API: refused %d connection(s): all %d are busy (API_MAX_CONNECTIONS)")
        self.evicted = RateLimitedLog("API: closed %d idle connection(s) to make room (%d open)")
        self.timed_out = RateLimitedLog("API: closed %d connection(s) that timed out (%s)")

    def admit(self, connection: Connection) -> bool:
        if len(self.open) >= self.limits.max_connections and not self._evict_one():
            self.refused.hit(len(self.open))
            return False
        self.open[connection] = None
        return True

    def release(self, connection: Connection) -> None:
        self.open.pop(connection, None)

    def _evict_one(self) -> bool:
        for connection in self.open:
            if not connection.busy():
                self.open.pop(connection)
                if connection.transport is not None:
                    connection.transport.abort()
                self.evicted.hit(len(self.open))
                return True
        return False

    def sweep(self) -> None:
        now, limits = self.clock(), self.limits
        for connection in list(self.open):
            transport = connection.transport
            if transport is None or transport.is_closing():
                continue
            unsent = connection.unsent()
            acked = bytes_acked(transport) if unsent else None
            mark = (acked, unsent if acked is None else None)
            if unsent == 0 or mark != connection.progress_mark:
                connection.last_progress, connection.progress_mark = now, mark
            elif now - connection.last_progress > limits.write_timeout_s:
                transport.abort()  # the answer is abandoned: the client did not read it
                self.timed_out.hit("write timeout")
                continue
            if connection.busy():
                connection.last_busy = now
                continue
            if connection.last_busy is None:
                if now - connection.opened > limits.header_timeout_s:
                    transport.close()
                    self.timed_out.hit("no request in time")
            elif now - connection.last_busy > limits.keepalive_timeout_s:
                transport.close()

    async def run_sweeps(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL_S)
            self.sweep()


class LimitedSite(web.TCPSite):
    """aiohttp's TCP site with every connection going through a ConnectionPool."""

    def __init__(self, runner: web.AppRunner, host: str, port: int, limits: ConnectionLimits) -> None:
        super().__init__(runner, host, port, reuse_address=True, backlog=BACKLOG)
        self.pool = ConnectionPool(limits, None)
        self._sweeper: asyncio.Task | None = None

    async def start(self) -> None:
        await web.BaseSite.start(self)  # registers the site with the runner
        self.pool.make_handler = handler_factory(self._runner.server)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: Connection(self.pool),
            self._host,
            self._port,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
        )
        self._bound_port = self._server.sockets[0].getsockname()[1] if self._server.sockets else self._port
        for sock in self._server.sockets:
            defer_accept(sock, self.pool.limits.header_timeout_s)
        self._sweeper = asyncio.create_task(self.pool.run_sweeps(), name="api-connection-sweeps")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        await super().stop()


def defer_accept(sock: Any, seconds: float) -> None:
    """Linux: a connection is handed over only once it has sent something (or after ``seconds``), so
    silent connections cost the kernel a little and this process nothing."""
    if hasattr(socket, "TCP_DEFER_ACCEPT"):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, max(1, int(seconds)))
        except OSError:
            pass


class MalformedRequests(logging.Filter):
    """aiohttp logs every unparseable request (a NUL in a header, a bad request line) at ERROR with a
    traceback: any client could fill the log. They are answered 400 as before; logged once a second."""

    def __init__(self) -> None:
        super().__init__()
        self.summary = RateLimitedLog("API: %d malformed request(s) answered 400, e.g. %s")

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            self.summary.hit(str(exc.message).splitlines()[0][:100] if exc.message else type(exc).__name__)
            return False
        return True


MALFORMED_REQUESTS = MalformedRequests()


def quiet_accept_errors(loop: asyncio.AbstractEventLoop) -> None:
    """asyncio reports each failed accept (EMFILE, ENFILE...) with a traceback; keep one a second."""
    previous = loop.get_exception_handler()
    accept_errors = RateLimitedLog("API: %d connection(s) could not be accepted: %s")

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if str(context.get("message", "")).startswith("socket.accept() out of system resource"):
            accept_errors.hit(context.get("exception"))
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)


async def start_api(
    app: web.Application, host: str, port: int, limits: ConnectionLimits | None = None
) -> tuple[web.AppRunner, str]:
    """Serve ``app`` on host:port with ``limits``; returns the runner and the URL to show."""
    limits = limits or ConnectionLimits()
    before, after = raise_open_files_limit()
    if after > before:
        log.info("Open files limit raised from %d to %d", before, after)
    quiet_accept_errors(asyncio.get_running_loop())
    server_log = logging.getLogger("aiohttp.server")
    if MALFORMED_REQUESTS not in server_log.filters:
        server_log.addFilter(MALFORMED_REQUESTS)
    runner = web.AppRunner(
        app, access_log=None, handle_signals=False, shutdown_timeout=2.0, keepalive_timeout=limits.keepalive_timeout_s
    )
    await runner.setup()
    site = LimitedSite(runner, host, port, limits)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "") else host
    return runner, f"http://{shown_host}:{site.port}"
