"""The simulated master's model: agents, frameworks, offers, filters and tasks.

Plain Python objects, no I/O and no asyncio. Every operation takes the time `t`
(seconds since the epoch, as Mesos stamps statuses) and returns an `Effects`:
the events to send to frameworks, the subscription streams to close, and the
earliest timer it armed. Timers live in a heap inside the state and fire through
`advance(t)`, so a unit test can drive the whole master with made-up times and
the server only needs one sleeping task.

Behaviour follows Mesos 1.11 (see /work/shared/reference/mesos-v1-scheduler-api.md
§1.10-1.11): uuid'd executor updates delivered one at a time per task and
re-sent until acknowledged; master-generated updates (reconciliation, invalid
offers, agent loss) without uuid; refuse filters per (framework, agent) that
hold the refused resources; PARTITION_AWARE state mapping.

`MasterState` is assembled from one class per concern, each in its module:
agents, frameworks (subscribe, teardown), failover, allocator (offers,
filters), launch (ACCEPT), tasks (updates, kills, acknowledgements) and
reconciliation.
"""

from __future__ import annotations

import collections
import itertools
import random
import socket
import uuid as uuidlib
from collections.abc import Callable

from scheduler.sim.agents import AgentOps
from scheduler.sim.allocator import Allocator
from scheduler.sim.effects import ControlError, Effects, StreamClose, SubscribeResult, op
from scheduler.sim.failover import Failover
from scheduler.sim.frameworks import FrameworkOps
from scheduler.sim.launch import Launcher
from scheduler.sim.model import (
    PARTITION_STATES,
    TERMINAL_STATES,
    Agent,
    Framework,
    Offer,
    Task,
    refuse_seconds,
    validate_framework_info,
)
from scheduler.sim.options import SimConfig
from scheduler.sim.outcomes import OutcomePlanner
from scheduler.sim.partitions import Partitions
from scheduler.sim.reconciliation import Reconciler
from scheduler.sim.tasks import TaskLife
from scheduler.sim.timers import FAILOVER, RETRY, STEP, UNREACHABLE, TimerHeap

__all__ = [
    "PARTITION_STATES",
    "TERMINAL_STATES",
    "ControlError",
    "Effects",
    "MasterState",
    "StreamClose",
    "SubscribeResult",
    "refuse_seconds",
    "validate_framework_info",
]


class MasterState(AgentOps, Partitions, FrameworkOps, Failover, Allocator, Launcher, TaskLife, Reconciler):
    def __init__(self, config: SimConfig, t: float, *, hostname: str = "127.0.0.1", port: int = 5050) -> None:
        self.config = config
        self.rng = random.Random(config.seed)  # ids and uuids
        self.outcomes = OutcomePlanner(config, random.Random(config.seed + 1))
        self.master_id = self._new_uuid().__str__()
        self.hostname = hostname
        self.port = port
        self.start_time = t
        self.elected_time = t
        self.agents: dict[str, Agent] = {}
        self.unreachable_agents: dict[str, float] = {}  # removed agent id -> time
        self.frameworks: dict[str, Framework] = {}
        self.completed_frameworks: collections.OrderedDict[str, Framework] = collections.OrderedDict()
        self.removed_framework_ids: set[str] = set()
        self.offers: dict[str, Offer] = {}
        # Agents that may have something to offer, in insertion order (an ordered
        # set): allocation walks only these, not every agent.
        self._offerable: dict[str, None] = {}
        # (time a refuse filter lifts, agent id) of agents taken out of _offerable.
        self._parked: list[tuple[float, str]] = []
        self._hostnames: dict[str, str] = {}  # hostname -> id of the registered agent
        self._agent_seq = itertools.count()
        self._hostname_seq = itertools.count(1)
        self._offer_seq = itertools.count()
        self._framework_seq = itertools.count()
        self._timers = TimerHeap()
        # Explicit timer dispatch: each kind of timer and the one handler it may call.
        self._timer_handlers: dict[str, Callable[..., None]] = {
            STEP: self._on_step,
            RETRY: self._on_retry,
            FAILOVER: self._on_failover,
            UNREACHABLE: self._on_unreachable,
        }
        self._wake: float | None = None
        for _ in range(config.agents):
            self._add_agent(t)

    # -- small helpers --

    def _new_uuid(self) -> uuidlib.UUID:
        return uuidlib.UUID(int=self.rng.getrandbits(128), version=4)

    def set_address(self, hostname: str, port: int) -> None:
        self.hostname = hostname
        self.port = port

    @property
    def ip(self) -> str:
        try:
            socket.inet_aton(self.hostname)
            return self.hostname
        except OSError:
            return "127.0.0.1"

    @property
    def pid(self) -> str:
        return f"master@{self.ip}:{self.port}"

    def master_info(self) -> dict:
        return {
            "id": self.master_id,
            # MasterInfo.ip is the IPv4 address in network byte order read as uint32.
            "ip": int.from_bytes(socket.inet_aton(self.ip), "little"),
            "port": self.port,
            "pid": self.pid,
            "hostname": self.hostname,
            "version": self.config.version,
            "address": {"hostname": self.hostname, "ip": self.ip, "port": self.port},
            "capabilities": [{"type": "AGENT_UPDATE"}, {"type": "AGENT_DRAINING"}],
        }

    def _arm(self, due: float, kind: str, *args) -> None:
        self._timers.push(due, kind, args)
        self._wake = due if self._wake is None else min(self._wake, due)

    def next_deadline(self) -> float | None:
        return self._timers.next_deadline()

    def _mark_offerable(self, agent: Agent) -> None:
        if agent.id in self.agents and not agent.partitioned:
            self._offerable[agent.id] = None

    def find_task(self, task_id: str, framework_id: str | None = None) -> Task:
        """A task the master knows, for the control API."""
        frameworks = (
            [self.frameworks[framework_id]]
            if framework_id in self.frameworks
            else []
            if framework_id is not None
            else list(self.frameworks.values())
        )
        found = [fw.tasks[task_id] for fw in frameworks if task_id in fw.tasks]
        if not found:
            raise ControlError(404, f"no task {task_id!r} is known")
        if len(found) > 1:
            raise ControlError(409, f"task id {task_id!r} is used by several frameworks; add ?framework_id=")
        return found[0]

    # -- timers --

    @op
    def advance(self, t: float) -> Effects:
        """Fire every timer due at or before `t`, in order."""
        fx = Effects()
        for due, kind, args in self._timers.pop_due(t):
            self._timer_handlers[kind](due, fx, *args)
        return fx

    # -- views --

    def task_counts(self) -> dict[str, int]:
        counts: dict[str, int] = collections.Counter()
        for fw in self.frameworks.values():
            for task in fw.tasks.values():
                counts[task.state] += 1
            for task in fw.unreachable.values():
                counts[task.state] += 1
        return dict(counts)
