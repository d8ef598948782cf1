"""Everything that changes the core, as small frozen values the engine posts to its one queue.

The master's events (``scheduler.core.events``) come from the driver; the rest from the database,
the record writer, calls to the master that failed, and the scheduling clock. ``apply`` takes any
of them (``Input``) with the current time and returns the ``Actions`` to carry out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from scheduler.core.actions import Launch
from scheduler.core.events import Event
from scheduler.jobs.definitions import ErrorCategory, ExeStatus, JobType
from scheduler.jobs.executions import RunningExe
from scheduler.jobs.queue import QueuedJob
from scheduler.nodes.agent_report import AgentReport

# --- from the database ---


@dataclass(frozen=True, slots=True)
class LoadedNode:
    node_id: int
    hostname: str
    is_active: bool
    is_paused: bool


@dataclass(frozen=True, slots=True)
class LoadedTry:
    """A try the database says is running (after a restart): tracked, and reconciled once subscribed."""

    exe: RunningExe
    priority: int
    queued_at: float


@dataclass(frozen=True, slots=True)
class RecentEnd:
    """A try that ended within the status's three-hour window."""

    node_id: int
    job_type_id: int
    status: ExeStatus
    category: ErrorCategory | None
    ended: float


@dataclass(frozen=True, slots=True)
class StateLoaded:
    """What the database knows at start, before any event of the master is applied."""

    nodes: tuple[LoadedNode, ...] = ()
    paused: bool = False
    message_handlers: int = 1
    job_types: tuple[JobType, ...] = ()
    running: tuple[LoadedTry, ...] = ()
    finished: tuple[RecentEnd, ...] = ()
    queued: tuple[QueuedJob, ...] = ()


@dataclass(frozen=True, slots=True)
class JobsQueued:
    """Jobs the database lists as queued (new ones, or all of them now and then)."""

    jobs: tuple[QueuedJob, ...]


@dataclass(frozen=True, slots=True)
class JobTypesRead:
    job_types: tuple[JobType, ...]


@dataclass(frozen=True, slots=True)
class FlagsRead:
    """The scheduler row: paused, and how many message handlers are wanted."""

    paused: bool
    message_handlers: int


@dataclass(frozen=True, slots=True)
class HandlersAlive:
    """Message handlers running inside this process (in-process mode)."""

    count: int


@dataclass(frozen=True, slots=True)
class NodeFlagsRead:
    paused: Mapping[str, bool]  # hostname -> paused


@dataclass(frozen=True, slots=True)
class NodeIdsStored:
    """Node rows written: the database id of each hostname."""

    ids: Mapping[str, int]


# --- from the writer and the calls to the master ---


@dataclass(frozen=True, slots=True)
class WriteDone:
    """The records these launches need were written (``ok``) or given up."""

    launches: tuple[Launch, ...]
    ok: bool


@dataclass(frozen=True, slots=True)
class LaunchRefused:
    """The master answered the ACCEPT with an error: its tasks never ran."""

    launch: Launch


@dataclass(frozen=True, slots=True)
class LaunchAnswered:
    """The master took the ACCEPT: its tasks are the master's now (their updates will tell)."""

    launch: Launch


@dataclass(frozen=True, slots=True)
class LaunchUnanswered:
    """The ACCEPT got no answer: the master may or may not have the tasks."""

    launch: Launch


@dataclass(frozen=True, slots=True)
class AgentsListed:
    """One complete listing of the master's agents, or a part of one (``first``, ``last``): at 10,000
    agents taking in a listing is 30-90 ms, so the engine hands it over in parts with other inputs
    between them; agents the listing leaves out are counted absent once its last part is in."""

    reports: tuple[AgentReport, ...]
    first: bool = True
    last: bool = True

    def parts(self, size: int) -> list[AgentsListed]:
        """This listing as parts of at most ``size`` agents, in order (itself when that is one)."""
        if len(self.reports) <= size:
            return [self]
        starts = range(0, len(self.reports), size)
        return [
            AgentsListed(self.reports[start : start + size], first=start == 0, last=start + size >= len(self.reports))
            for start in starts
        ]


@dataclass(frozen=True, slots=True)
class MasterProblems:
    """What the engine found wrong around the master, each round of its master poll: other
    frameworks with our name or principal (None: not read this round, the last answer stands), the
    ZooKeeper detector's problem (None: none) and why the master's agents, or its frameworks, could
    not be read (None: the last read succeeded)."""

    ghosts: tuple[str, ...] | None = None
    detection: str | None = None
    agents_error: str | None = None
    frameworks_error: str | None = None


@dataclass(frozen=True, slots=True)
class OffersWanted:
    """Whether the master is expected to offer us resources: not while we have suppressed offers
    or declined them with the long idle filter (the nodes' no-offer rule waits meanwhile)."""

    wanted: bool


@dataclass(frozen=True, slots=True)
class OffersHeld:
    """Offers held past the warning threshold: how many, and the longest hold (0 and 0.0: none)."""

    count: int
    longest_s: float
    limit_s: float


# --- from the scheduling clock ---


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passed: node rules, execution windows, resource warnings. ``loop_lag``: the event
    loop's lag problem as the runtime measured it (None: the loop keeps time)."""

    loop_lag: str | None = None


@dataclass(frozen=True, slots=True)
class Cycle:
    """Plan a scheduling cycle; ``launches_held`` while the records a launch needs cannot be written."""

    launches_held: bool = False


Input = (
    Event
    | StateLoaded
    | JobsQueued
    | JobTypesRead
    | FlagsRead
    | HandlersAlive
    | NodeFlagsRead
    | NodeIdsStored
    | WriteDone
    | LaunchAnswered
    | LaunchRefused
    | LaunchUnanswered
    | AgentsListed
    | MasterProblems
    | OffersHeld
    | OffersWanted
    | Tick
    | Cycle
)
