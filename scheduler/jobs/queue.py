"""The queue of jobs waiting to run, in Scale's order: priority (lower first), then age."""

from __future__ import annotations

import bisect
from collections.abc import Iterator
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


class JobQueue:
    def __init__(self) -> None:
        self._keys: list[tuple[int, float, int]] = []  # kept sorted
        self._jobs: dict[int, QueuedJob] = {}

    def __len__(self) -> int:
        return len(self._jobs)

    def __contains__(self, job_id: int) -> bool:
        return job_id in self._jobs

    def add(self, job: QueuedJob) -> bool:
        if job.job_id in self._jobs:
            return False
        self._jobs[job.job_id] = job
        bisect.insort(self._keys, job.order)
        return True

    def add_many(self, jobs) -> int:
        """Add jobs in bulk (a reload of thousands): one sort instead of one insertion each."""
        added = [job for job in jobs if job.job_id not in self._jobs]
        for job in added:
            self._jobs[job.job_id] = job
        if added:
            self._keys.extend(job.order for job in added)
            self._keys.sort()
        return len(added)

    def remove(self, job_id: int) -> QueuedJob | None:
        job = self._jobs.pop(job_id, None)
        if job is not None:
            index = bisect.bisect_left(self._keys, job.order)
            del self._keys[index]
        return job

    def __iter__(self) -> Iterator[QueuedJob]:
        """In running order; the queue may be changed while iterating over a copy of the order."""
        for key in list(self._keys):
            job = self._jobs.get(key[2])
            if job is not None and job.order == key:
                yield job
