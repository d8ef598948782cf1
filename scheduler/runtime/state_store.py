"""The engine's reads and writes of the scheduler's state, besides the record writer's: what the
core is loaded with at start, the rows it reads every second or so, node rows and the stored status.

Each read returns the core's input, ready to post. The engine takes any object with these methods,
so a test can hand it a fake database (see tests/engine/harness.py).
"""

from __future__ import annotations

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
from scheduler.store.job_types import load_job_types
from scheduler.store.nodes import NodeRow, load_nodes, load_pause_flags, save_nodes
from scheduler.store.scheduler_row import load_scheduler_flags, save_status
from scheduler.store.scheduling import load_finished_exes, load_queued_jobs, load_running_exes


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
        queued = await run(load_queued_jobs)
        return StateLoaded(
            nodes=tuple(LoadedNode(r.id, r.hostname, r.is_active, r.is_paused) for r in nodes),
            paused=flags.is_paused,
            message_handlers=flags.num_message_handlers,
            job_types=tuple(job_types),
            running=tuple(LoadedTry(r.exe, r.priority, r.queued_at) for r in running),
            finished=tuple(RecentEnd(r.node_id, r.job_type_id, r.status, r.category, r.ended) for r in finished),
            queued=tuple(queued),
        )

    async def queued_jobs(self, after_id: int = 0) -> JobsQueued:
        return JobsQueued(tuple(await self.database.run(lambda connection: load_queued_jobs(connection, after_id))))

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

    async def save_status(self, body: bytes, generated_at: float) -> None:
        await self.database.run(lambda connection: save_status(connection, body, generated_at))
