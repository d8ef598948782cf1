"""Which keys changed after a given moment, found at the cost of what changed, not of every key.

Each change of a key takes the next stamp of the log's counter and moves the key to the end of an
insertion-ordered dict, so the keys changed after a stamp are the dict's tail, read backwards
until an older stamp. The status builder keeps, for each log, the stamp it has seen: at 10,000 nodes
a snapshot then looks at the few hundred nodes that changed in the last second, not at all of them.
A key's stamp also serves as its version: equal stamps, no change in between.
"""

from __future__ import annotations

from collections.abc import Hashable


class ChangeLog:
    __slots__ = ("_stamps", "stamp")

    def __init__(self) -> None:
        self._stamps: dict[Hashable, int] = {}
        self.stamp = 0  # the latest change's

    def touch(self, key: Hashable) -> None:
        self.stamp += 1
        stamps = self._stamps
        stamps.pop(key, None)
        stamps[key] = self.stamp

    def version(self, key: Hashable) -> int:
        """The stamp of the key's latest change, 0 if it never changed."""
        return self._stamps.get(key, 0)

    def since(self, stamp: int) -> list[Hashable]:
        """The keys changed after ``stamp``, the latest first."""
        changed = []
        for key, at in reversed(self._stamps.items()):
            if at <= stamp:
                break
            changed.append(key)
        return changed
