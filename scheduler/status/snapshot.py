"""The latest status, serialized once and shared by every request until the next one replaces it.

A snapshot also keeps its compressed forms once made (``scheduler.api.encodings``: each at most once,
on the first request that asks for it, or before it is published when a reader asked the previous
snapshot for that form), so every later request sends the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scheduler.status.view import SnapshotView


@dataclass(frozen=True, slots=True)
class StatusSnapshot:
    generated_at: float  # epoch seconds: the document's timestamp
    body: bytes  # the JSON document, ready to send
    build_s: float = 0.0  # how long assembling and serializing took
    view: SnapshotView | None = None  # the same moment, for the daemon's own readers
    # Compressed bodies by content coding, filled on first use; not part of the snapshot's identity.
    _encoded: dict[str, bytes] = field(default_factory=dict, compare=False, repr=False)
    _read_in: set[str] = field(default_factory=set, compare=False, repr=False)  # codings requests asked for

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

    def codings_made(self) -> tuple[str, ...]:
        return tuple(self._encoded)

    def note_read(self, coding: str) -> None:
        """A request asked for this snapshot in ``coding``."""
        self._read_in.add(coding)

    def codings_read(self) -> tuple[str, ...]:
        return tuple(sorted(self._read_in))

    def keep_encoded(self, coding: str, body: bytes) -> None:
        self._encoded[coding] = body


class SnapshotHolder:
    """Holds the newest snapshot; readers never wait and never see a half-built document."""

    def __init__(self) -> None:
        self.current: StatusSnapshot | None = None

    def publish(self, snapshot: StatusSnapshot) -> None:
        self.current = snapshot
