"""The latest status, serialized once and shared by every request until the next one replaces it."""

from __future__ import annotations

from dataclasses import dataclass

from scheduler.status.view import SnapshotView


@dataclass(frozen=True, slots=True)
class StatusSnapshot:
    generated_at: float  # epoch seconds: the document's timestamp
    body: bytes  # the JSON document, ready to send
    build_s: float = 0.0  # how long assembling and serializing took
    view: SnapshotView | None = None  # the same moment, for the daemon's own readers


class SnapshotHolder:
    """Holds the newest snapshot; readers never wait and never see a half-built document."""

    def __init__(self) -> None:
        self.current: StatusSnapshot | None = None

    def publish(self, snapshot: StatusSnapshot) -> None:
        self.current = snapshot
