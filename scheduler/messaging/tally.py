"""Process-wide counts of refused messages, read by ``/metrics`` and the msg_queue dependency.

Every MessageHandler of the process adds to it (in-process mode runs them inside the scheduler);
the msg_queue probe records the depth of the dead-letter queue, which handler tasks in other
processes fill, so the scheduler sees their rejections too.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass
class QueueTally:
    rejected_messages: int = 0  # refused by a handler of this process, for any reason
    dead_lettered_messages: int = 0  # of those, published to the dead-letter queue
    dead_letter_depth: int | None = None  # messages waiting in <queue>.dead at the last probe

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def add(self, *, rejected: int = 0, dead_lettered: int = 0) -> None:
        with self._lock:
            self.rejected_messages += rejected
            self.dead_lettered_messages += dead_lettered

    def values(self) -> tuple[int, int, int | None]:
        with self._lock:
            return self.rejected_messages, self.dead_lettered_messages, self.dead_letter_depth


TALLY = QueueTally()
