"""Content codings of the status: gzip, and brotli where the package is installed.

Compressing is I/O-side work (it runs on a thread, under a lock), so it lives here rather than in the
pure status package; the snapshot only keeps the bytes once made.
"""

from __future__ import annotations

import threading
import zlib

from scheduler.status.snapshot import StatusSnapshot

try:  # optional: brotli is offered only where the package is installed
    import brotli
except ImportError:  # pragma: no cover - depends on the environment
    brotli = None

GZIP_LEVEL = 1  # 80x smaller at 10,000 nodes already; higher levels cost 5x the time for ~20 % less
BROTLI_QUALITY = 1  # as fast as gzip level 1 on a status document, and about half its size
CODINGS = ("br", "gzip") if brotli is not None else ("gzip",)

_lock = threading.Lock()  # one compression at a time: a second thread waits for the first one's bytes


def compress(body: bytes, coding: str) -> bytes:
    if coding == "gzip":
        compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # gzip framing
        return compressor.compress(body) + compressor.flush()
    if coding == "br" and brotli is not None:
        return brotli.compress(body, quality=BROTLI_QUALITY)
    raise ValueError(f"unknown content coding {coding!r}")


def gunzip(body: bytes, max_bytes: int) -> bytes:
    """Inflate a gzip body, refusing one that would grow past ``max_bytes`` (or is cut short)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    plain = inflater.decompress(body, max_bytes + 1)
    if len(plain) > max_bytes:
        raise ValueError(f"more than {max_bytes} bytes once inflated")
    if not inflater.eof:
        raise ValueError("a gzip body cut short")
    return plain


def encoded(snapshot: StatusSnapshot, coding: str) -> bytes:
    """The snapshot's body in ``coding``, compressed once; safe to call from several threads at a time."""
    ready = snapshot.encoded_if_ready(coding)
    if ready is not None:
        return ready
    with _lock:
        ready = snapshot.encoded_if_ready(coding)
        if ready is None:
            ready = compress(snapshot.body, coding)
            snapshot.keep_encoded(coding, ready)
        return ready
