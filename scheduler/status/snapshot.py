"""The latest status, serialized once and shared by every request until the next one replaces it.

A snapshot also keeps its compressed forms: each is made at most once, on the first request that
asks for it (most snapshots are never fetched compressed, so compressing at publish would cost
14 ms a second at 10,000 nodes for nothing), and every later request sends the same bytes.
"""

from __future__ import annotations

import threading
import zlib
from dataclasses import dataclass, field

from scheduler.status.view import SnapshotView

try:  # optional: brotli is offered only where the package is installed
    import brotli
except ImportError:  # pragma: no cover - depends on the environment
    brotli = None

GZIP_LEVEL = 1  # 80x smaller at 10,000 nodes already; higher levels cost 5x the time for ~20 % less
BROTLI_QUALITY = 1  # as fast as gzip level 1 on a status document, and about half its size
CODINGS = ("br", "gzip") if brotli is not None else ("gzip",)


def compress(body: bytes, coding: str) -> bytes:
    if coding == "gzip":
        compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # gzip framing
        return compressor.compress(body) + compressor.flush()
    if coding == "br" and brotli is not None:
        return brotli.compress(body, quality=BROTLI_QUALITY)
    raise ValueError(f"unknown content coding {coding!r}")


@dataclass(frozen=True, slots=True)
class StatusSnapshot:
    generated_at: float  # epoch seconds: the document's timestamp
    body: bytes  # the JSON document, ready to send
    build_s: float = 0.0  # how long assembling and serializing took
    view: SnapshotView | None = None  # the same moment, for the daemon's own readers
    # Compressed bodies by content coding, filled on first use; not part of the snapshot's identity.
    _encoded: dict[str, bytes] = field(default_factory=dict, compare=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    @property
    def etag(self) -> str:
        """A strong entity tag of the plain body: its time (to the microsecond) and length.

        Two snapshots never share a time, so this names the bytes without hashing 11 MB.
        """
        return f'"{round(self.generated_at * 1_000_000):x}-{len(self.body):x}"'

    def etag_for(self, coding: str | None) -> str:
        # A strong tag names exact bytes, so each coding has its own (RFC 9110 8.8.3).
        return self.etag if coding is None else f'{self.etag[:-1]}-{coding}"'

    def encoded_if_ready(self, coding: str) -> bytes | None:
        return self._encoded.get(coding)

    def encoded(self, coding: str) -> bytes:
        """The body in ``coding``, compressed once; safe to call from several threads at a time."""
        ready = self._encoded.get(coding)
        if ready is not None:
            return ready
        with self._lock:
            ready = self._encoded.get(coding)
            if ready is None:
                ready = self._encoded[coding] = compress(self.body, coding)
            return ready


class SnapshotHolder:
    """Holds the newest snapshot; readers never wait and never see a half-built document."""

    def __init__(self) -> None:
        self.current: StatusSnapshot | None = None

    def publish(self, snapshot: StatusSnapshot) -> None:
        self.current = snapshot
