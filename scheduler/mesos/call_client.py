"""Scheduler calls over kept-alive (and, past their number, pipelined) HTTP/1.1 connections.

A busy scheduler makes thousands of calls a second: the v1 API wants one ACKNOWLEDGE per status
update (three per task) and one ACCEPT per agent per pass, with no batch form. Through aiohttp's
client each costs about 260 µs of event-loop time (measured on the 2-core bench machine), so at
100,000 tasks the acknowledgements alone fell more than the agents' 10 s retry behind and the
master's re-sends doubled the load. These calls are all small POSTs to one path of one origin,
answered by ``202 Accepted`` with an empty body; so a request is a fixed prefix plus two headers
and the body, written on a kept-alive connection, and the answer parsed in place: about half the
loop time per call. A call goes on an idle connection while there is one (or one may open); past
that it is pipelined behind others (HTTP/1.1: libprocess, like any HTTP/1.1 server, answers a
connection's requests in order) and answers are matched to requests in order.

What can go wrong stays visible: a connection that closes, an answer that cannot be parsed or is
too large, or a call not answered within its timeout fails every call still waiting on that
connection with an ``OSError`` (the master may or may not have had them: the caller treats them
as unanswered, as it does any lost connection).
"""

from __future__ import annotations

import asyncio
import ssl as ssl_module
from collections import deque
from urllib.parse import urlsplit

MAX_HEAD_BYTES = 64 * 1024  # status line and headers of one answer
MAX_BODY_BYTES = 1024 * 1024  # an error text; a call's answer is otherwise empty
# A master slow to answer each call may answer one connection's calls one after another, so depth on
# one connection is no substitute for connections (the call pool makes four times as many calls at once).
DEFAULT_CONNECTIONS = 32
PIPELINE_DEPTH = 256  # calls sent and not answered, per connection, before another connection opens


class BadAnswer(ConnectionError):
    """The master's answer was not HTTP/1.1 we can read (or was too large)."""


class CallTimeout(TimeoutError):
    pass


def _header_value(value: str, name: str) -> str:
    # Values come from configuration or the master's own headers; a line break would split the request.
    if any(c in value for c in "\r\n\0"):
        raise ValueError(f"{name} holds a line break")
    return value


class _Answer:
    """An answer being read: its status, headers, and body framing."""

    __slots__ = ("status", "length", "chunked", "until_close", "close_after", "body")

    def __init__(self, status: int, length: int | None, chunked: bool, until_close: bool, close_after: bool) -> None:
        self.status = status
        self.length = length
        self.chunked = chunked
        self.until_close = until_close
        self.close_after = close_after
        self.body = bytearray()


class _Connection(asyncio.Protocol):
    """One keep-alive connection: requests go out at once, answers resolve the oldest waiting call."""

    def __init__(self, on_gone) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiting: deque[asyncio.Future] = deque()
        self.closed = False
        self._buffer = bytearray()
        self._outgoing: list[bytes] = []
        self._answer: _Answer | None = None
        self._on_gone = on_gone

    # --- asyncio.Protocol ---

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        try:
            while self._parse_one():
                pass
        except BadAnswer as exc:
            self.fail(exc)

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        answer = self._answer
        if answer is not None and answer.until_close and self.waiting:
            self._resolve(answer)  # an answer whose body runs to the end of the connection
        self.fail(ConnectionError(f"the master closed the connection{f': {exc!r}' if exc else ''}"))

    # --- calls ---

    def send(self, request: bytes, future: asyncio.Future) -> None:
        # Requests made in one turn of the loop go out in one write (one system call, not one each).
        self.waiting.append(future)
        if not self._outgoing:
            asyncio.get_running_loop().call_soon(self._flush)
        self._outgoing.append(request)

    def _flush(self) -> None:
        if self._outgoing and not self.closed:
            self.transport.write(b"".join(self._outgoing))
        self._outgoing.clear()

    def fail(self, exc: Exception) -> None:
        """Close, failing every call still waiting for an answer here."""
        if not self.closed:
            self.closed = True
            self._on_gone(self)
            if self.transport is not None:
                self.transport.abort()
        while self.waiting:
            future = self.waiting.popleft()
            if not future.done():
                future.set_exception(exc)

    # --- reading answers ---

    def _parse_one(self) -> bool:
        """Read one answer (or as much of it as has come); True when one was completed."""
        buffer = self._buffer
        if self._answer is None:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > MAX_HEAD_BYTES:
                    raise BadAnswer(f"an answer's head is longer than {MAX_HEAD_BYTES} bytes")
                return False
            if not self.waiting:
                raise BadAnswer("an answer came to no call")
            head = bytes(buffer[:end]).decode("latin-1")
            del buffer[: end + 4]
            answer = _read_head(head)
            if answer is None:  # 1xx: an interim answer, the real one follows
                return True
            self._answer = answer
        answer = self._answer
        if answer.chunked:
            if not _read_chunks(buffer, answer):
                return False
        elif answer.length is not None:
            need = answer.length - len(answer.body)
            answer.body += buffer[:need]
            del buffer[:need]
            if len(answer.body) < answer.length:
                return False
        else:  # until the connection closes
            answer.body += buffer
            buffer.clear()
            if len(answer.body) > MAX_BODY_BYTES:
                raise BadAnswer(f"an answer's body is longer than {MAX_BODY_BYTES} bytes")
            return False
        self._resolve(answer)
        if answer.close_after:
            self.fail(ConnectionError("the master closed the connection after an answer"))
            return False
        return True

    def _resolve(self, answer: _Answer) -> None:
        self._answer = None
        future = self.waiting.popleft()
        if not future.done():  # not cancelled by its caller meanwhile
            future.set_result((answer.status, bytes(answer.body)))


def _read_head(head: str) -> _Answer | None:
    lines = head.split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit() or len(parts[1]) != 3:
        raise BadAnswer(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
    status = int(parts[1])
    if 100 <= status < 200:
        return None
    length: int | None = None
    chunked = False
    close_after = parts[0] == "HTTP/1.0"
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise BadAnswer(f"a header line without a colon: {line[:80]!r}")
        name = name.strip().lower()
        value = value.strip()
        if name == "content-length":
            if not value.isdigit() or (length is not None and int(value) != length):
                raise BadAnswer(f"a bad Content-Length: {value[:40]!r}")
            length = int(value)
            if length > MAX_BODY_BYTES:
                raise BadAnswer(f"an answer's body is longer than {MAX_BODY_BYTES} bytes")
        elif name == "transfer-encoding":
            chunked = value.lower().endswith("chunked")
        elif name == "connection":
            tokens = {token.strip().lower() for token in value.split(",")}
            close_after = "close" in tokens or (close_after and "keep-alive" not in tokens)
    if status in (204, 304):
        length, chunked = 0, False
    if chunked:
        length = None  # Transfer-Encoding wins over Content-Length (RFC 9112, 6.3)
    until_close = not chunked and length is None
    return _Answer(status, length, chunked, until_close, close_after or until_close)


def _read_chunks(buffer: bytearray, answer: _Answer) -> bool:
    """Move complete chunks from ``buffer`` into the body; True at the last chunk and its trailer."""
    while True:
        line_end = buffer.find(b"\r\n")
        if line_end < 0:
            if len(buffer) > 1024:
                raise BadAnswer("a chunk size line is too long")
            return False
        size_text = bytes(buffer[:line_end]).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise BadAnswer(f"a bad chunk size: {size_text[:20]!r}") from None
        if size == 0:
            trailer_end = buffer.find(b"\r\n\r\n", line_end)
            if trailer_end < 0:
                return False
            del buffer[: trailer_end + 4]
            return True
        if len(answer.body) + size > MAX_BODY_BYTES:
            raise BadAnswer(f"an answer's body is longer than {MAX_BODY_BYTES} bytes")
        start = line_end + 2
        if len(buffer) < start + size + 2:
            return False
        answer.body += buffer[start : start + size]
        del buffer[: start + size + 2]


class CallClient:
    """POSTs to one origin (the leading master) over at most ``connections`` pipelined connections."""

    def __init__(
        self,
        base_url: str,
        *,
        ssl: ssl_module.SSLContext | bool = True,
        headers: dict[str, str] | None = None,
        connect_timeout_s: float = 10.0,
        connections: int = DEFAULT_CONNECTIONS,
        depth: int = PIPELINE_DEPTH,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.base_url = base_url
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._path_prefix = parts.path.rstrip("/")
        self._ssl: ssl_module.SSLContext | None = None
        if parts.scheme == "https":
            self._ssl = ssl if isinstance(ssl, ssl_module.SSLContext) else ssl_module.create_default_context()
            if ssl is False:  # verification off, as aiohttp's ssl=False means
                self._ssl.check_hostname = False
                self._ssl.verify_mode = ssl_module.CERT_NONE
        host_header = f"[{self._host}]" if ":" in self._host else self._host
        if parts.port:
            host_header += f":{parts.port}"
        fixed = {"Host": host_header, "Content-Type": "application/json", "Accept": "application/json"}
        fixed.update(headers or {})
        self._fixed_headers = "".join(f"{name}: {_header_value(value, name)}\r\n" for name, value in fixed.items())
        self._connect_timeout_s = connect_timeout_s
        self._max_connections = connections
        self._depth = depth
        self._open: list[_Connection] = []
        self._connecting: asyncio.Future[_Connection] | None = None
        self._closed = False
        self._checked: tuple[str, str] | None = None

    async def post(self, path: str, body: bytes, headers: dict[str, str], timeout_s: float) -> tuple[int, bytes]:
        """POST ``body`` to ``path``; the answer's status and body. Raises ``OSError`` (or a
        ``TimeoutError``) when no answer came."""
        head = [f"POST {self._path_prefix}{path} HTTP/1.1\r\n", self._fixed_headers]
        for name, value in headers.items():
            if (name, value) != self._checked:  # the stream id: the same on every call of a subscription
                _header_value(value, name)
                self._checked = (name, value)
            head.append(f"{name}: {value}\r\n")
        head.append(f"Content-Length: {len(body)}\r\n\r\n")
        request = "".join(head).encode("latin-1") + body
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        connection = self._pick()
        if connection is None:
            async with asyncio.timeout_at(deadline):
                connection = await asyncio.shield(self._opening())
        future: asyncio.Future[tuple[int, bytes]] = loop.create_future()
        connection.send(request, future)
        timer = loop.call_at(deadline, self._expire, connection, future, timeout_s)
        try:
            return await future
        finally:
            timer.cancel()

    def _expire(self, connection: _Connection, future: asyncio.Future, timeout_s: float) -> None:
        if not future.done():
            # The answers behind this one cannot come before it: the connection is given up.
            connection.fail(CallTimeout(f"no answer within {timeout_s:g} s"))

    def _pick(self) -> _Connection | None:
        """The open connection with the fewest calls waiting, if one may take another; a busy one
        has another connection opened beside it (in the background) while there is room."""
        if self._closed:
            raise ConnectionError("the call client is closed")
        best = min(self._open, key=lambda c: len(c.waiting), default=None)
        if best is None:
            return None
        room = len(self._open) < self._max_connections
        if best.waiting and room and self._connecting is None:  # all busy: one more, for the next call
            self._opening().add_done_callback(_retrieve)
        if len(best.waiting) < self._depth or not room:
            return best
        return None

    def _opening(self) -> asyncio.Future[_Connection]:
        if self._connecting is None:  # one connection opens at a time; callers share it
            self._connecting = asyncio.ensure_future(self._connect())
        return self._connecting

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                _transport, connection = await loop.create_connection(
                    lambda: _Connection(self._gone),
                    self._host,
                    self._port,
                    ssl=self._ssl,
                    server_hostname=self._host if self._ssl is not None else None,
                )
        finally:
            self._connecting = None
        if self._closed:
            connection.fail(ConnectionError("the call client is closed"))
            raise ConnectionError("the call client is closed")
        self._open.append(connection)
        return connection

    def _gone(self, connection: _Connection) -> None:
        if connection in self._open:
            self._open.remove(connection)

    def close(self) -> None:
        """Close every connection; calls still waiting fail."""
        self._closed = True
        for connection in list(self._open):
            connection.fail(ConnectionError("the call client is closed"))
        if self._connecting is not None:
            self._connecting.cancel()


def _retrieve(future: asyncio.Future) -> None:
    """A connection opened in the background that failed: the next call that needs one sees why."""
    if not future.cancelled():
        future.exception()
