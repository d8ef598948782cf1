"""Per-node job execution counts for the status: running now, and completed and failed (by error
category) in the last three hours, kept in five-minute blocks.

Blocks are aligned to the clock (multiples of five minutes since the epoch), so the window is the
same before and after a restart, and the database query that reloads it (``window_start``) picks
exactly the executions these blocks would hold. An execution stays counted for between 3 h and
3 h 5 min after it ended, as in Scale.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from typing import Any

from scheduler.change_log import ChangeLog
from scheduler.jobs.definitions import ErrorCategory, ExeStatus

BLOCK_S = 300.0
WINDOW_S = 3 * 3600.0

BUCKETS = ("completed", "data", "algorithm", "system")
_BUCKET_OF = {ErrorCategory.DATA: "data", ErrorCategory.ALGORITHM: "algorithm", ErrorCategory.SYSTEM: "system"}


def window_start(now: float) -> float:
    """The start of the oldest block still counted at ``now``."""
    return math.floor((now - WINDOW_S) / BLOCK_S) * BLOCK_S


def bucket_of(status: ExeStatus, category: ErrorCategory | None) -> str | None:
    """Where a finished execution counts; CANCELED and uncategorised failures count nowhere (Scale)."""
    if status is ExeStatus.COMPLETED:
        return "completed"
    if status is ExeStatus.FAILED and category is not None:
        return _BUCKET_OF.get(category)
    return None


def _by_type(counts: dict[int, int]) -> dict[str, Any]:
    if not counts:
        return {"total": 0, "by_job_type": []}
    return {
        "total": sum(counts.values()),
        "by_job_type": [{"job_type_id": jt, "count": n} for jt, n in sorted(counts.items()) if n],
    }


_NONE: dict = {}


class JobExeMetrics:
    def __init__(self) -> None:
        self._running: dict[int, Counter] = {}  # node id -> job type id -> count
        self.running_by_type: Counter = Counter()  # job type id -> count, over the cluster (the load history)
        self._blocks: deque[tuple[float, dict[tuple[int, str], Counter]]] = deque()  # (start, counts)
        self._finished: dict[int, dict[str, Counter]] = {}  # node id -> bucket -> job type id -> count
        self.changes = ChangeLog()  # node ids whose counts changed, for the status

    def _changed(self, node_id: int) -> None:
        self.changes.touch(node_id)

    def started(self, node_id: int, job_type_id: int) -> None:
        self._running.setdefault(node_id, Counter())[job_type_id] += 1
        self.running_by_type[job_type_id] += 1
        self._changed(node_id)

    def stopped_running(self, node_id: int, job_type_id: int) -> None:
        running = self._running.get(node_id)
        if running is not None and running[job_type_id] > 0:
            running[job_type_id] -= 1
            if running[job_type_id] == 0:
                del running[job_type_id]
            self.running_by_type[job_type_id] -= 1
            if self.running_by_type[job_type_id] <= 0:
                del self.running_by_type[job_type_id]
            self._changed(node_id)

    def finished(
        self,
        node_id: int,
        job_type_id: int,
        status: ExeStatus,
        category: ErrorCategory | None,
        ended: float,
        now: float,
    ) -> None:
        """Count a finished execution in the block of its end (if that block is still kept)."""
        bucket = bucket_of(status, category)
        if bucket is None or ended < window_start(now):
            return
        start = math.floor(ended / BLOCK_S) * BLOCK_S
        block = self._block(start)
        block[(node_id, bucket)][job_type_id] += 1
        self._finished.setdefault(node_id, {}).setdefault(bucket, Counter())[job_type_id] += 1
        self._changed(node_id)

    def _block(self, start: float) -> dict[tuple[int, str], Counter]:
        for block_start, counts in reversed(self._blocks):
            if block_start == start:
                return counts
            if block_start < start:
                break
        counts: dict[tuple[int, str], Counter] = _CounterDict()
        self._blocks.append((start, counts))
        if len(self._blocks) > 1 and self._blocks[-2][0] > start:  # an old end arriving late: keep order
            self._blocks = deque(sorted(self._blocks, key=lambda item: item[0]))
        return counts

    def prune(self, now: float) -> None:
        """Drop the blocks that left the window, and their counts."""
        oldest = window_start(now)
        while self._blocks and self._blocks[0][0] < oldest:
            _, counts = self._blocks.popleft()
            for (node_id, bucket), by_type in counts.items():
                totals = self._finished[node_id][bucket]
                totals.subtract(by_type)
                for job_type_id in [jt for jt, n in totals.items() if n <= 0]:
                    del totals[job_type_id]
                self._changed(node_id)

    def node_json(self, node_id: int | None) -> dict[str, Any]:
        running = self._running.get(node_id, _NONE)
        finished = self._finished.get(node_id, _NONE)
        data = _by_type(finished.get("data", _NONE))
        algorithm = _by_type(finished.get("algorithm", _NONE))
        system = _by_type(finished.get("system", _NONE))
        return {
            "running": _by_type(running),
            "completed": _by_type(finished.get("completed", _NONE)),
            "failed": {
                "total": data["total"] + algorithm["total"] + system["total"],
                "data": data,
                "algorithm": algorithm,
                "system": system,
            },
        }

    def counts(self, node_id: int) -> dict[str, int]:
        """Totals per bucket for one node (for checks against the database)."""
        finished = self._finished.get(node_id, {})
        result = {bucket: sum(finished.get(bucket, Counter()).values()) for bucket in BUCKETS}
        result["running"] = sum(self._running.get(node_id, Counter()).values())
        return result


class _CounterDict(dict):
    def __missing__(self, key: tuple[int, str]) -> Counter:
        value = self[key] = Counter()
        return value
