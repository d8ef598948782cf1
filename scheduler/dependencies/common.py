"""What every probe shares: the section shape, naming the cause of a failure, masking, a thread slot.

A section is Scale's ``{"OK": bool, "detail": {...}, "errors": [{KEY: text}], "warnings": [...]}``.
Errors and warnings are lists of single-key dicts; keys that Scale writes as integer HTTP status
codes are strings here, as they are in Scale's stored JSON.

Failure messages keep Scale's wording and error keys. Where Scale has one generic message for "any
exception" (for example ``Database unavailable.``), that exact message is kept for causes this
module cannot name; a cause it can name (a timeout, a refused connection, an unknown host, an
HTTP status) is put into the message instead, e.g. ``Database unavailable: connection refused.``.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from scheduler.redact import mask_text

log = logging.getLogger("scheduler.dependencies")

JSON = dict[str, Any]
T = TypeVar("T")
Secrets = Sequence[str]
# Receives the masked detail of a failure, for the log ("Check Logs for details").
Report = Callable[[str], None]


def report_debug(text: str) -> None:
    log.debug("probe failure: %s", text)


# The longest exception text put into a section or a log line.
MAX_CAUSE_CHARS = 300


def section(ok: bool, detail: JSON, errors: Iterable[JSON] = (), warnings: Iterable[JSON] = ()) -> JSON:
    return {"OK": ok, "detail": detail, "errors": list(errors), "warnings": list(warnings)}


def timed_out(timeout_s: float) -> str:
    return f"timed out after {timeout_s:g} s"


def still_hung(busy_s: float) -> str:
    return f"timed out, the previous check is still hung after {busy_s:.0f} s (this run was skipped)"


class CheckStillRunning(Exception):
    """The probe's previous blocking call has not returned yet; this run is skipped."""

    def __init__(self, busy_s: float) -> None:
        super().__init__(still_hung(busy_s))
        self.busy_s = busy_s


def _chain(exc: BaseException) -> Iterable[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def known_cause(exc: BaseException, timeout_s: float) -> str | None:
    """A short name for why a call failed, when the exception tells: timeout, refused, unknown host.

    Client libraries wrap socket errors in their own types (urllib3 in elastic_transport, requests
    in hvac, psycopg2 in SQLAlchemy), so the whole exception chain is read, and the text as a last
    resort (psycopg2 reports a refused connection only in its message).
    """
    for link in _chain(exc):
        if isinstance(link, CheckStillRunning):
            return str(link)
        if isinstance(link, ConnectionRefusedError):
            return "connection refused"
        if isinstance(link, socket.gaierror):
            return "host not found"
        if isinstance(link, TimeoutError):  # socket.timeout is TimeoutError since 3.10
            return timed_out(timeout_s)
        if isinstance(link, OSError) and link.errno == errno.ECONNREFUSED:
            return "connection refused"
    for link in _chain(exc):
        name = type(link).__name__.lower()
        text = str(link).lower()
        if "timeout" in name or "timed out" in text or "timeout expired" in text:
            return timed_out(timeout_s)
        if "connection refused" in text or "econnrefused" in text:
            return "connection refused"
        if "name or service not known" in text or "nodename nor servname" in text or "name resolution" in text:
            return "host not found"
    return None


def describe(exc: BaseException, timeout_s: float, secrets: Iterable[str] = ()) -> str:
    """The cause of a failure for a message: a known cause, else the masked exception text."""
    cause = known_cause(exc, timeout_s)
    if cause:
        return cause
    text = str(exc).strip() or type(exc).__name__
    text = " ".join(text.split())  # one line
    if len(text) > MAX_CAUSE_CHARS:
        text = text[: MAX_CAUSE_CHARS - 3] + "..."
    return mask_text(text, secrets)


def exception_text(exc: BaseException, secrets: Iterable[str] = ()) -> str:
    """``Type: message`` of an exception, on one line, shortened and masked: for the log."""
    text = " ".join(str(exc).split())
    if len(text) > MAX_CAUSE_CHARS:
        text = text[: MAX_CAUSE_CHARS - 3] + "..."
    return mask_text(f"{type(exc).__name__}: {text}" if text else type(exc).__name__, secrets)


def mask_section(value: Any, secrets: list[str]) -> Any:
    """A copy of a section with every string masked: the last guard against a leaked secret."""
    if isinstance(value, str):
        return mask_text(value, secrets)
    if isinstance(value, dict):
        return {
            mask_section(k, secrets) if isinstance(k, str) else k: mask_section(v, secrets) for k, v in value.items()
        }
    if isinstance(value, list):
        return [mask_section(v, secrets) for v in value]
    return value


class ThreadSlot:
    """Runs one probe's blocking client call on a daemon thread, at most one at a time.

    A Python thread cannot be killed: when the awaiting side times out, the call keeps running
    until its own client-level timeout ends it. Until then the slot stays busy and ``call`` raises
    ``CheckStillRunning`` at once instead of starting a second thread, so a hung dependency holds
    at most one thread. Daemon threads, so a call that never returns cannot block process exit.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._busy_since: float | None = None
        self._lock = threading.Lock()

    @property
    def busy(self) -> bool:
        return self._busy_since is not None

    def busy_for(self) -> float:
        since = self._busy_since
        return 0.0 if since is None else time.monotonic() - since

    async def call(self, work: Callable[[], T]) -> T:
        with self._lock:
            if self._busy_since is not None:
                raise CheckStillRunning(self.busy_for())
            self._busy_since = time.monotonic()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def settle(ok: bool, value: Any) -> None:
            if future.done():  # the awaiting side timed out or was cancelled
                return
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

        def target() -> None:
            try:
                outcome = (True, work())
            except BaseException as exc:  # handed to the awaiting side, never lost in the thread
                outcome = (False, exc)
            finally:
                with self._lock:
                    self._busy_since = None
            try:
                loop.call_soon_threadsafe(settle, *outcome)
            except RuntimeError:  # the loop has closed meanwhile: nobody is waiting
                pass

        try:
            threading.Thread(target=target, name=f"probe-{self.name}", daemon=True).start()
        except BaseException:
            with self._lock:
                self._busy_since = None
            raise
        return await future
