"""What the core asks the runtime to write to the database before it tells the master anything."""

from __future__ import annotations

from dataclasses import dataclass

from scheduler.jobs.definitions import ErrorCategory, ExeStatus, JobStatus


@dataclass(frozen=True, slots=True)
class ExeLaunched:
    """A try of a job is about to be launched: written before the ACCEPT is sent."""

    job_id: int
    exe_num: int
    job_type_id: int
    task_id: str
    node_id: int
    started: float


@dataclass(frozen=True, slots=True)
class ExeEnded:
    """A try ended; ``job_status`` is where the job goes next (QUEUED when it is retried)."""

    task_id: str
    job_id: int
    exe_num: int
    status: ExeStatus
    category: ErrorCategory | None
    exit_code: int | None
    ended: float
    job_status: JobStatus


Record = ExeLaunched | ExeEnded


@dataclass(frozen=True, slots=True)
class NodeRecord:
    """A node whose database row is out of date (new, a new agent id, retired, back): written by
    the engine in the background; the row's id comes back as ``NodeIdsStored``."""

    hostname: str
    agent_id: str
    is_active: bool
    is_paused: bool
    node_id: int | None
