"""The engine's reads and writes of the scheduler's state, besides the record writer's: what the
core is loaded with at start, the rows it reads every second or so, node rows and the stored status.

Each read returns the core's input, ready to post. The engine takes any object with these methods,
so a test can hand it a fake database (see tests/engine/harness.py).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from scheduler.core.inputs import (
    FlagsRead,
    JobsQueued,
    JobTypesRead,
    LoadedNode,
    LoadedTry,
    NodeFlagsRead,
    NodeIdsStored,
    RecentEnd,
    StateLoaded,
)
from scheduler.core.records import NodeRecord
from scheduler.jobs.exe_metrics import window_start
from scheduler.store.database import Database
from scheduler.store.job_type_rows import load_job_types
from scheduler.store.node_rows import NodeRow, load_nodes, load_pause_flags, save_nodes
from scheduler.store.scheduler_row import load_scheduler_flags, save_status
from scheduler.store.scheduling import load_all_queued_jobs, load_finished_exes, load_queued_jobs, load_running_exes

GAP_WAIT_S = 60.0  # an id missing below the highest read is looked for this long (a transaction still open)
MAX_GAPS = 32  # id ranges looked for at most: past this, neighbours merge (reading some ids again)


class NewJobIds:
    """Which queued jobs to read next, so that each read costs the jobs that are new.

    Ids come from one sequence but transactions commit out of order: when ids above a missing one
    have been read, the missing one may still come (a transaction still open, e.g. another message's
    10,000 jobs) or never (rolled back, or stored other than QUEUED). So each read asks for the ids
    above the highest read and for the gaps below it, each gap for ``GAP_WAIT_S`` after it was seen.
    """

    def __init__(self, highest: int = 0) -> None:
        self.highest = highest
        self.gaps: list[tuple[int, int, float]] = []  # (first id, last id, when seen), by id

    def ranges(self) -> list[tuple[int, int]]:
        return [(low, high) for low, high, _ in self.gaps]

    def read(self, ids: Sequence[int], now: float) -> None:
        """These ids were read (a read cut by its limit ends at its highest id: those above come
        with the next read, so the gaps below it are real)."""
        ids = sorted(ids)
        gaps = [(low, high, since) for low, high, since in self.gaps if now - since < GAP_WAIT_S]
        found = [i for i in ids if i <= self.highest]
        if found:
            gaps = _without(gaps, found)
        previous = self.highest
        for job_id in ids:
            if job_id <= self.highest:
                continue
            if job_id > previous + 1:
                gaps.append((previous + 1, job_id - 1, now))
            previous = job_id
        self.highest = max(self.highest, previous)
        while len(gaps) > MAX_GAPS:  # the two closest merge, the newer time kept
            gaps.sort()
            index = min(range(len(gaps) - 1), key=lambda i: gaps[i + 1][0] - gaps[i][1])
            (low, _, since_a), (_, high, since_b) = gaps[index], gaps[index + 1]
            gaps[index : index + 2] = [(low, high, max(since_a, since_b))]
        self.gaps = sorted(gaps)


def _without(gaps: list[tuple[int, int, float]], found: Sequence[int]) -> list[tuple[int, int, float]]:
    """The gaps with the ids found taken out (``found`` sorted)."""
    result = []
    for low, high, since in gaps:
        start = bisect.bisect_left(found, low)
        end = bisect.bisect_right(found, high)
        for job_id in found[start:end]:
            if job_id > low:
                result.append((low, job_id - 1, since))
            low = job_id + 1
        if low <= high:
            result.append((low, high, since))
    return result


class StateStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def load(self, now: float) -> StateLoaded:
        """Nodes, flags, job types, running tries, the last three hours' ends and the queued jobs."""
        run = self.database.run
        nodes = await run(load_nodes)
        flags = await run(load_scheduler_flags)
        job_types = await run(load_job_types)
        running = await run(load_running_exes)
        since = window_start(now)
        finished = await run(lambda connection: load_finished_exes(connection, since))
        queued = await run(load_all_queued_jobs)
        return StateLoaded(
            nodes=tuple(LoadedNode(r.id, r.hostname, r.is_active, r.is_paused) for r in nodes),
            paused=flags.is_paused,
            message_handlers=flags.num_message_handlers,
            job_types=tuple(job_types),
            running=tuple(LoadedTry(r.exe, r.priority, r.queued_at) for r in running),
            finished=tuple(RecentEnd(r.node_id, r.job_type_id, r.status, r.category, r.ended) for r in finished),
            queued=tuple(queued),
        )

    async def queued_jobs(self, after_id: int = 0, gaps: Sequence[tuple[int, int]] = ()) -> JobsQueued:
        """Queued jobs above ``after_id`` or within the ``gaps`` (id ranges), at most ``QUEUED_PAGE``."""
        return JobsQueued(
            tuple(await self.database.run(lambda connection: load_queued_jobs(connection, after_id, gaps=gaps)))
        )

    async def job_types(self) -> JobTypesRead:
        return JobTypesRead(tuple(await self.database.run(load_job_types)))

    async def flags(self) -> FlagsRead:
        flags = await self.database.run(load_scheduler_flags)
        return FlagsRead(flags.is_paused, flags.num_message_handlers)

    async def node_flags(self) -> NodeFlagsRead:
        return NodeFlagsRead(await self.database.run(load_pause_flags))

    async def save_nodes(self, records: Sequence[NodeRecord], timeout_s: float | None = None) -> NodeIdsStored:
        rows = [NodeRow(r.hostname, r.agent_id, r.is_active, r.is_paused, r.node_id) for r in records]
        ids = await self.database.run(lambda connection: save_nodes(connection, rows), timeout_s=timeout_s)
        return NodeIdsStored(ids)

    async def save_status(self, gzipped: bytes, generated_at: float) -> None:
        await self.database.run(lambda connection: save_status(connection, gzipped, generated_at))
