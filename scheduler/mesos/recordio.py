"""RecordIO framing of the subscription stream: ``<decimal byte length>\\n<that many bytes>``, repeated.

HTTP chunk boundaries have nothing to do with record boundaries (proxies re-chunk), so the decoder
buffers across ``feed`` calls and yields only whole records.
"""

from __future__ import annotations

DEFAULT_MAX_RECORD_BYTES = 256 * 1024 * 1024
_MAX_SIZE_DIGITS = 20  # a uint64 has at most 20 decimal digits


class RecordIOError(ValueError):
    """The stream is not RecordIO: a bad length prefix or an oversized record."""


def encode(record: bytes) -> bytes:
    """One record framed for the stream."""
    return b"%d\n%s" % (len(record), record)


class RecordIODecoder:
    """Incremental decoder: ``feed(chunk)`` returns the records that chunk completed."""

    __slots__ = ("_buffer", "_expected", "_max", "_error")

    def __init__(self, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> None:
        self._buffer = bytearray()
        self._expected: int | None = None  # length of the record being read, once its prefix is in
        self._max = max_record_bytes
        self._error: RecordIOError | None = None  # found after whole records; raised by the next feed

    @property
    def pending_bytes(self) -> int:
        """Bytes held that do not yet form a whole record."""
        return len(self._buffer)

    def feed(self, chunk: bytes) -> list[bytes]:
        if self._error is not None:
            raise self._error
        self._buffer += chunk
        buffer, pos, records = self._buffer, 0, []
        try:
            while True:
                if self._expected is None:
                    newline = buffer.find(b"\n", pos)
                    if newline < 0:
                        rest = buffer[pos:]
                        if len(rest) > _MAX_SIZE_DIGITS or (rest and not rest.isdigit()):
                            raise RecordIOError(f"bad record length prefix {bytes(rest[:32])!r}")
                        return records
                    prefix = bytes(buffer[pos:newline])
                    if not prefix.isdigit() or len(prefix) > _MAX_SIZE_DIGITS:
                        raise RecordIOError(f"bad record length prefix {prefix[:32]!r}")
                    size = int(prefix)
                    if size == 0:
                        raise RecordIOError("record length 0 is not allowed")
                    if size > self._max:
                        raise RecordIOError(f"record of {size} bytes exceeds the limit of {self._max}")
                    pos = newline + 1
                    self._expected = size
                end = pos + self._expected
                if len(buffer) < end:
                    return records
                records.append(bytes(buffer[pos:end]))
                pos, self._expected = end, None
        except RecordIOError as error:
            if not records:
                raise
            # Hand over the records that came before the bad bytes; the error comes next time.
            self._error = error
            return records
        finally:
            # One compaction per feed keeps many small records in one chunk linear.
            del buffer[:pos]
