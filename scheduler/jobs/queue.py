"""The queue of jobs waiting to run, in Scale's order: priority (lower first), then age.

Kept per job type, each type a heap in that order, so a scheduling pass pays for the job types
waiting and the jobs it places, not for the queue's length: ``Heads`` merges the types' first jobs,
a type with no room is passed over whole (its count is known), and the pass stops when the offers
run out. A job removed from the middle of its heap is dropped from it when it reaches the top.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(slots=True)
class QueuedJob:
    job_id: int
    job_type_id: int
    priority: int
    queued_at: float  # epoch seconds
    num_exes: int = 0  # tries so far

    @property
    def order(self) -> tuple[int, float, int]:
        return (self.priority, self.queued_at, self.job_id)


# A heap entry: the job's order, the number of the entry (a job removed and added again gets a new
# one, so its old entry is known to be stale), then the job's type and tries. Numbers only: a tuple of
# numbers leaves the garbage collector's sight at its first collection, so 100,000 queued jobs cost
# no collection anything (as objects, each was walked by a young and a middle collection as it
# came, tens of milliseconds in the first seconds of a burst). ``QueuedJob``s are made when asked for.
_Entry = tuple[int, float, int, int, int, int]  # priority, queued_at, job_id, number, job_type_id, num_exes


def _job(entry: _Entry) -> QueuedJob:
    return QueuedJob(entry[2], entry[4], entry[0], entry[1], entry[5])


@dataclass(frozen=True, slots=True)
class TypeSummary:
    count: int
    oldest_queued_at: float
    best_priority: int


class JobQueue:
    def __init__(self) -> None:
        self._jobs: dict[int, _Entry] = {}  # job id -> its live entry
        self._heaps: dict[int, list[_Entry]] = {}  # job type id -> its jobs' entries (some may be stale)
        self._counts: dict[int, int] = {}  # job type id -> its jobs queued
        # job type id -> (queued at, job id, entry number) heaps: the oldest job of a type whatever its
        # priority, for the status' summaries, without a walk of the queue (100,000 jobs) per status.
        self._oldest: dict[int, list[tuple[float, int, int]]] = {}
        self._numbers = itertools.count()

    def __len__(self) -> int:
        return len(self._jobs)

    def __contains__(self, job_id: int) -> bool:
        return job_id in self._jobs

    def _enter(self, job: QueuedJob) -> _Entry:
        entry = (job.priority, job.queued_at, job.job_id, next(self._numbers), job.job_type_id, job.num_exes)
        self._jobs[job.job_id] = entry
        self._counts[job.job_type_id] = self._counts.get(job.job_type_id, 0) + 1
        return entry

    def _live(self, entry: _Entry) -> bool:
        return self._jobs.get(entry[2]) is entry

    def _live_number(self, job_id: int, number: int) -> bool:
        current = self._jobs.get(job_id)
        return current is not None and current[3] == number

    def add(self, job: QueuedJob) -> bool:
        if job.job_id in self._jobs:
            return False
        entry = self._enter(job)
        heapq.heappush(self._heaps.setdefault(job.job_type_id, []), entry)
        heapq.heappush(self._oldest.setdefault(job.job_type_id, []), (job.queued_at, job.job_id, entry[3]))
        return True

    def add_many(self, jobs: Iterable[QueuedJob]) -> int:
        """Add jobs in bulk: each type's new jobs pushed one by one when few against its heap,
        appended and the heap rebuilt once when many (a reload of thousands)."""
        new: dict[int, list[_Entry]] = {}
        for job in jobs:
            if job.job_id not in self._jobs:
                new.setdefault(job.job_type_id, []).append(self._enter(job))
        for job_type_id, entries in new.items():
            heap = self._heaps.setdefault(job_type_id, [])
            oldest = self._oldest.setdefault(job_type_id, [])
            by_age = [(entry[1], entry[2], entry[3]) for entry in entries]
            if len(entries) * max(1, len(heap).bit_length()) < len(heap):
                for entry in entries:
                    heapq.heappush(heap, entry)
                for entry in by_age:
                    heapq.heappush(oldest, entry)
            else:
                heap += entries
                heapq.heapify(heap)
                oldest += by_age
                heapq.heapify(oldest)
        return sum(len(entries) for entries in new.values())

    def remove(self, job_id: int) -> QueuedJob | None:
        entry = self._jobs.pop(job_id, None)
        if entry is None:
            return None
        job = _job(entry)
        count = self._counts[job.job_type_id] - 1
        if count == 0:
            # Its stale entries go with it.
            del self._counts[job.job_type_id], self._heaps[job.job_type_id], self._oldest[job.job_type_id]
            return job
        self._counts[job.job_type_id] = count
        heap = self._heaps[job.job_type_id]
        if len(heap) > 2 * count + 64:
            # Mostly stale (many removed from the middle): rebuilt, so memory follows the queue.
            heap[:] = [e for e in heap if self._live(e)]
            heapq.heapify(heap)
        oldest = self._oldest[job.job_type_id]
        if len(oldest) > 2 * count + 64:
            oldest[:] = [e for e in oldest if self._live_number(e[1], e[2])]
            heapq.heapify(oldest)
        return job

    # --- per job type ---

    def job_type_ids(self) -> list[int]:
        return list(self._counts)

    def count(self, job_type_id: int) -> int:
        return self._counts.get(job_type_id, 0)

    def counts(self) -> dict[int, int]:
        """Jobs queued, per job type."""
        return dict(self._counts)

    def head(self, job_type_id: int) -> QueuedJob | None:
        """The job of this type to run first."""
        entry = self._head_entry(job_type_id)
        return _job(entry) if entry is not None else None

    def _head_entry(self, job_type_id: int) -> _Entry | None:
        """The entry of this type's first job (stale entries on top are dropped on the way)."""
        heap = self._heaps.get(job_type_id)
        if heap is None:
            return None
        while heap and not self._live(heap[0]):
            heapq.heappop(heap)
        return heap[0] if heap else None

    def summaries(self) -> dict[int, TypeSummary]:
        """Per job type: how many, queued since when, at the best priority (from the heads of the
        type's two heaps: no walk of its jobs)."""
        result = {}
        for job_type_id, count in self._counts.items():
            first = self._head_entry(job_type_id)
            oldest = self._oldest[job_type_id]
            while not self._live_number(oldest[0][1], oldest[0][2]):
                heapq.heappop(oldest)
            result[job_type_id] = TypeSummary(count, oldest[0][0], first[0])
        return result

    def heads(self, job_type_ids: Iterable[int] | None = None) -> Heads:
        return Heads(self, self.job_type_ids() if job_type_ids is None else job_type_ids)

    def __iter__(self) -> Iterator[QueuedJob]:
        """Every job in running order: a full walk and a sort, for tests and reads, not for a pass."""
        live = sorted(entry for heap in self._heaps.values() for entry in heap if self._live(entry))
        for entry in live:
            if self._live(entry):  # it may have been removed meanwhile
                yield _job(entry)


class Heads:
    """The first jobs of some job types, merged in running order, for one scheduling pass.

    ``next()`` gives the job to consider; before asking again the caller either removes it from the
    queue (placed) or ``drop``s its type (nothing of that type fits this pass): each job placed and
    each type passed over costs one look, whatever the queue's length."""

    def __init__(self, queue: JobQueue, job_type_ids: Iterable[int]) -> None:
        self._queue = queue
        self._heap: list[tuple[int, float, int, int]] = []
        for job_type_id in job_type_ids:
            entry = queue._head_entry(job_type_id)
            if entry is not None:
                self._heap.append((*entry[:3], job_type_id))
        heapq.heapify(self._heap)

    def next(self) -> QueuedJob | None:
        heap = self._heap
        while heap:
            job_type_id = heap[0][3]
            entry = self._queue._head_entry(job_type_id)
            if entry is None:
                heapq.heappop(heap)
            elif entry[:3] != heap[0][:3]:  # its head changed (placed, or a better job came)
                heapq.heapreplace(heap, (*entry[:3], job_type_id))
            else:
                return _job(entry)
        return None

    def drop(self, job_type_id: int) -> None:
        """Nothing more of this type in this pass (it is the type of the job ``next`` gave)."""
        if self._heap and self._heap[0][3] == job_type_id:
            heapq.heappop(self._heap)
            return
        self._heap = [entry for entry in self._heap if entry[3] != job_type_id]
        heapq.heapify(self._heap)

    def job_type_ids(self) -> list[int]:
        """The types not dropped that still have jobs."""
        return [entry[3] for entry in self._heap if self._queue.count(entry[3])]
