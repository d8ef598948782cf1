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
"""

from __future__ import annotations

import base64
import collections
import functools
import heapq
import itertools
import math
import random
import socket
import uuid as uuidlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from scheduler.sim.config import FINAL_STATES, SimConfig, parse_port_ranges
from scheduler.sim.outcomes import Outcome, OutcomeError, OutcomePlanner, apply_spec
from scheduler.sim.resources import (
    EMPTY,
    ResourceProblem,
    Resources,
    from_protobuf_list,
)

TERMINAL_STATES = FINAL_STATES
# Only PARTITION_AWARE frameworks may see these; the others get TASK_LOST.
PARTITION_STATES = frozenset({"TASK_DROPPED", "TASK_UNREACHABLE", "TASK_GONE", "TASK_GONE_BY_OPERATOR", "TASK_UNKNOWN"})

# hierarchical.cpp: refuse_seconds default and cap.
DEFAULT_REFUSE_SECONDS = 5.0
MAX_REFUSE_SECONDS = 365 * 24 * 3600.0

AGENT_PORT = 5051
AGENT_CAPABILITIES = [
    "MULTI_ROLE",
    "HIERARCHICAL_ROLE",
    "RESERVATION_REFINEMENT",
    "RESOURCE_PROVIDER",
    "RESIZE_VOLUME",
    "AGENT_OPERATION_FEEDBACK",
    "AGENT_DRAINING",
    "TASK_RESOURCE_LIMITS",
]
COMPLETED_FRAMEWORKS_KEPT = 1000
COMPLETED_TASKS_KEPT = 1000


class ControlError(Exception):
    """A control-API request the state cannot honour (HTTP status + detail)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass
class StreamClose:
    stream_id: str
    error: str | None = None  # sent as an ERROR event before the stream ends
    abort: bool = False  # drop the connection without the chunked terminator


@dataclass
class Effects:
    events: list[tuple[str, dict]] = field(default_factory=list)
    closes: list[StreamClose] = field(default_factory=list)
    wake_at: float | None = None  # earliest timer armed by the operation

    def emit(self, framework_id: str, event: dict) -> None:
        self.events.append((framework_id, event))

    def extend(self, other: Effects) -> Effects:
        self.events.extend(other.events)
        self.closes.extend(other.closes)
        if other.wake_at is not None:
            self.wake_at = other.wake_at if self.wake_at is None else min(self.wake_at, other.wake_at)
        return self


def refuse_seconds(filters: dict | None) -> float:
    """Duration of the refuse filter of an ACCEPT/DECLINE (0 = no filter)."""
    value = DEFAULT_REFUSE_SECONDS if filters is None else filters.get("refuse_seconds", DEFAULT_REFUSE_SECONDS)
    if math.isnan(value) or value < 0:
        return DEFAULT_REFUSE_SECONDS
    return min(value, MAX_REFUSE_SECONDS)


def _id(value: str) -> dict:
    return {"value": value}


def _validate_id(value: str) -> str | None:
    """common::validation::validateID."""
    if not value:
        return "ID must be non-empty"
    if len(value) > 255:
        return "ID must not be greater than 255 characters"
    if value in (".", ".."):
        return f"'{value}' is disallowed"
    if any(c in "/\\" or ord(c) < 32 or ord(c) == 127 for c in value):
        return f"'{value}' contains invalid characters"
    return None


def _role_error(role: str) -> str | None:
    if role == "*":
        return None
    if not role or role in (".", "..") or role.startswith("-"):
        return f"Role '{role}' is invalid"
    if any(c.isspace() or ord(c) < 32 or c == "\\" for c in role):
        return f"Role '{role}' is invalid: contains invalid characters"
    return None


def validate_framework_info(info: dict) -> str | None:
    """The parts of master validateFrameworkInfo a simulator can check."""
    caps = {c.get("type") for c in info.get("capabilities", [])}
    roles = info.get("roles", [])
    if "MULTI_ROLE" in caps:
        if "role" in info:
            return "'FrameworkInfo.role' must not be set when the framework is MULTI_ROLE capable"
        seen = set()
        dupes = sorted({r for r in roles if r in seen or seen.add(r)})
        if dupes:
            return f"'FrameworkInfo.roles' contains duplicate items: {', '.join(dupes)}"
    elif roles:
        return "'FrameworkInfo.roles' must not be set when the framework is not MULTI_ROLE capable"
    for role in roles or [info.get("role", "*")]:
        err = _role_error(role)
        if err:
            return err
    return None


# --- model objects ---------------------------------------------------------------------


class Agent:
    __slots__ = (
        "id",
        "seq",
        "hostname",
        "ip",
        "registered_time",
        "total",
        "other_used",
        "task_used",
        "offered",
        "offer_ids",
        "tasks",
        "executors",
        "attributes",
        "_avail",
    )

    def __init__(
        self, agent_id: str, seq: int, hostname: str, ip: str, t: float, total: Resources, attributes: dict
    ) -> None:
        self.id = agent_id
        self.seq = seq
        self.hostname = hostname
        self.ip = ip
        self.registered_time = t
        self.total = total
        self.other_used = EMPTY  # resources used by frameworks outside the simulation
        self.task_used = EMPTY  # our tasks and their executors
        self.offered = EMPTY
        self.offer_ids: set[str] = set()
        self.tasks: set[tuple[str, str]] = set()  # (framework_id, task_id) of live tasks
        # (framework_id, executor_id) -> [resources, number of live tasks]
        self.executors: dict[tuple[str, str], list] = {}
        self.attributes = attributes
        self._avail: Resources | None = None

    @property
    def pid(self) -> str:
        return f"slave(1)@{self.ip}:{AGENT_PORT}"

    def touch(self) -> None:
        self._avail = None

    def available(self) -> Resources:
        """total - other frameworks - our tasks - outstanding offers, never negative."""
        if self._avail is None:
            self._avail = self.total - (self.other_used + self.task_used + self.offered)
        return self._avail

    def has_gpus(self) -> bool:
        return self.total.gpus > 0

    def attributes_json(self) -> list[dict]:
        out = []
        for name, value in self.attributes.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out.append({"name": name, "type": "SCALAR", "scalar": {"value": float(value)}})
            else:
                out.append({"name": name, "type": "TEXT", "text": {"value": str(value)}})
        return out


class Offer:
    __slots__ = ("id", "framework_id", "agent_id", "resources", "role", "created")

    def __init__(self, offer_id, framework_id, agent_id, resources, role, created) -> None:
        self.id = offer_id
        self.framework_id = framework_id
        self.agent_id = agent_id
        self.resources = resources
        self.role = role
        self.created = created


class RefuseFilter:
    __slots__ = ("expires", "refused")

    def __init__(self, expires: float, refused: Resources) -> None:
        self.expires = expires
        self.refused = refused


class Task:
    __slots__ = (
        "id",
        "framework_id",
        "agent_id",
        "name",
        "executor_id",
        "custom_executor",
        "resources",
        "labels",
        "role",
        "state",
        "statuses",
        "status_update_state",
        "pending",
        "retry_token",
        "step_gen",
        "outcome",
        "kill_requested",
        "launched_at",
        "unreachable_time",
    )

    def __init__(
        self,
        framework_id: str,
        agent_id: str,
        task_info: dict,
        executor_id: str,
        custom_executor: bool,
        resources: Resources,
        role: str,
        outcome: Outcome,
        t: float,
    ) -> None:
        self.id = task_info["task_id"]["value"]
        self.framework_id = framework_id
        self.agent_id = agent_id
        self.name = task_info["name"]
        self.executor_id = executor_id
        self.custom_executor = custom_executor
        self.resources = resources
        self.labels = task_info.get("labels", {}).get("labels", [])
        self.role = role
        self.state = "TASK_STAGING"
        self.statuses: list[tuple[str, float]] = []
        self.status_update_state: str | None = None  # state of the last update sent
        self.pending: collections.deque[dict] = collections.deque()  # uuid'd, unacked
        self.retry_token = 0
        self.step_gen = 0
        self.outcome = outcome
        self.kill_requested = False
        self.launched_at = t
        self.unreachable_time: float | None = None

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES


class Framework:
    def __init__(self, framework_id: str, info: dict, t: float) -> None:
        self.id = framework_id
        self.info: dict = {}
        self.registered_time = t
        self.reregistered_time: float | None = None
        self.unregistered_time: float | None = None
        self.connected = False
        self.stream_id: str | None = None
        self.suppressed: set[str] = set()
        self.tasks: dict[str, Task] = {}  # live, plus terminal ones not yet acknowledged
        self.unreachable: dict[str, Task] = {}  # tasks of removed agents
        self.completed_tasks: collections.deque[Task] = collections.deque(maxlen=COMPLETED_TASKS_KEPT)
        self.offers: set[str] = set()
        self.filters: dict[str, list[RefuseFilter]] = {}
        self.failover_gen = 0
        self.failover_deadline: float | None = None
        self.update_info(info)

    def update_info(self, info: dict) -> None:
        info = dict(info)
        info["id"] = _id(self.id)
        self.info = info
        self.capabilities = {c.get("type") for c in info.get("capabilities", [])}

    @property
    def name(self) -> str:
        return self.info.get("name", "")

    @property
    def failover_timeout(self) -> float:
        return float(self.info.get("failover_timeout", 0.0))

    @property
    def partition_aware(self) -> bool:
        return "PARTITION_AWARE" in self.capabilities

    @property
    def multi_role(self) -> bool:
        return "MULTI_ROLE" in self.capabilities

    @property
    def roles(self) -> list[str]:
        if self.multi_role:
            return list(self.info.get("roles", []))
        return [self.info.get("role", "*")]

    def offer_role(self) -> str | None:
        """The role offers are made to, or None when every role is suppressed."""
        for role in self.roles:
            if role not in self.suppressed:
                return role
        return None

    def visible_state(self, state: str) -> str:
        if state in PARTITION_STATES and not self.partition_aware:
            return "TASK_LOST"
        return state


@dataclass
class SubscribeResult:
    framework_id: str | None
    subscribed: dict | None  # the SUBSCRIBED event, first record of the stream
    refusal: str | None  # message of the ERROR event that ends a refused stream
    effects: Effects


def _op(method: Callable) -> Callable:
    """Collect the earliest timer armed during a public operation into its Effects."""

    @functools.wraps(method)
    def wrapper(self: MasterState, *args, **kwargs):
        outer = self._wake
        self._wake = None
        try:
            result = method(self, *args, **kwargs)
        finally:
            wake, self._wake = self._wake, outer
        if isinstance(result, SubscribeResult):
            fx = result.effects
        elif isinstance(result, tuple):
            fx = result[-1]
        else:
            fx = result
        if isinstance(fx, Effects) and wake is not None:
            fx.wake_at = wake if fx.wake_at is None else min(fx.wake_at, wake)
        return result

    return wrapper


# --- the master ------------------------------------------------------------------------


class MasterState:
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
        self._timers: list[tuple[float, int, str, tuple]] = []
        self._timer_seq = itertools.count()
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
        heapq.heappush(self._timers, (due, next(self._timer_seq), kind, args))
        self._wake = due if self._wake is None else min(self._wake, due)

    def next_deadline(self) -> float | None:
        return self._timers[0][0] if self._timers else None

    def _mark_offerable(self, agent: Agent) -> None:
        if agent.id in self.agents:
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

    # -- statuses --

    def _status(
        self,
        fw: Framework,
        task_id: str,
        state: str,
        source: str,
        t: float,
        *,
        agent_id: str | None = None,
        executor_id: str | None = None,
        reason: str | None = None,
        message: str | None = None,
        uuid: bytes | None = None,
        unreachable_time: float | None = None,
    ) -> dict:
        status: dict = {"task_id": _id(task_id), "state": fw.visible_state(state), "source": source}
        if message:
            status["message"] = message
        if reason:
            status["reason"] = reason
        if agent_id:
            status["agent_id"] = _id(agent_id)
        if executor_id:
            status["executor_id"] = _id(executor_id)
        status["timestamp"] = t
        if uuid is not None:
            status["uuid"] = base64.b64encode(uuid).decode("ascii")
        if unreachable_time is not None:
            status["unreachable_time"] = {"nanoseconds": int(unreachable_time * 1e9)}
        return status

    @staticmethod
    def _update(status: dict) -> dict:
        return {"type": "UPDATE", "update": {"status": status}}

    def _emit_master_update(self, fw: Framework, status: dict, fx: Effects) -> None:
        if fw.connected:
            fx.emit(fw.id, self._update(status))

    def _executor_update(
        self,
        task: Task,
        state: str,
        t: float,
        fx: Effects,
        *,
        source: str = "SOURCE_EXECUTOR",
        reason: str | None = None,
        message: str | None = None,
    ) -> None:
        """A state change reported by the executor/agent: uuid'd, queued per task."""
        fw = self.frameworks[task.framework_id]
        task.state = state
        task.statuses.append((state, t))
        status = self._status(
            fw,
            task.id,
            state,
            source,
            t,
            agent_id=task.agent_id,
            executor_id=task.executor_id,
            reason=reason,
            message=message,
            uuid=self._new_uuid().bytes,
        )
        task.pending.append(status)
        if len(task.pending) == 1:
            self._send_head(task, t, fx)

    def _send_head(self, task: Task, t: float, fx: Effects) -> None:
        """(Re)send the oldest unacknowledged update and arm its retry."""
        fw = self.frameworks[task.framework_id]
        head = task.pending[0]
        task.status_update_state = head["state"]
        task.retry_token += 1
        if fw.connected:
            fx.emit(fw.id, self._update(head))
        self._arm(t + self.config.update_retry_s, "retry", fw.id, task.id, task.retry_token)

    def _free_task_resources(self, task: Task) -> None:
        agent = self.agents.get(task.agent_id)
        if agent is None:
            return
        key = (task.framework_id, task.id)
        if key not in agent.tasks:
            return
        agent.tasks.discard(key)
        freed = task.resources
        if task.custom_executor:
            ex_key = (task.framework_id, task.executor_id)
            usage = agent.executors.get(ex_key)
            if usage is not None:
                usage[1] -= 1
                if usage[1] <= 0:
                    freed = freed + usage[0]
                    del agent.executors[ex_key]
        agent.task_used = agent.task_used - freed
        agent.touch()
        self._mark_offerable(agent)

    def _terminate(
        self,
        task: Task,
        state: str,
        t: float,
        fx: Effects,
        *,
        source: str,
        reason: str | None = None,
        message: str | None = None,
    ) -> None:
        task.step_gen += 1  # cancels any scheduled step
        self._executor_update(task, state, t, fx, source=source, reason=reason, message=message)
        self._free_task_resources(task)

    # -- agents --

    def _add_agent(
        self,
        t: float,
        *,
        cpus=None,
        mem=None,
        disk=None,
        gpus=None,
        ports=None,
        hostname: str | None = None,
        attributes: dict | None = None,
    ) -> Agent:
        cfg = self.config
        seq = next(self._agent_seq)
        if hostname is None:
            while True:
                hostname = f"{cfg.hostname_prefix}{next(self._hostname_seq)}"
                if hostname not in self._hostnames:
                    break
        agent_id = f"{self.master_id}-S{seq}"
        n = seq + 1
        ip = f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"
        total = Resources(
            cpus=cfg.agent_cpus if cpus is None else cpus,
            mem=cfg.agent_mem if mem is None else mem,
            disk=cfg.agent_disk if disk is None else disk,
            gpus=cfg.agent_gpus if gpus is None else gpus,
            ports=parse_port_ranges(cfg.agent_ports if ports is None else ports),
        )
        agent = Agent(agent_id, seq, hostname, ip, t, total, dict(attributes or {}))
        self.agents[agent_id] = agent
        self._hostnames[hostname] = agent_id
        self._mark_offerable(agent)
        return agent

    def add_agents(self, t: float, count: int = 1, *, hostname: str | None = None, **kwargs) -> list[Agent]:
        if hostname is not None:
            if count != 1:
                raise ControlError(400, "hostname can only be given with count 1")
            if hostname in self._hostnames:
                raise ControlError(
                    409, f"hostname {hostname!r} is registered as agent {self._hostnames[hostname]}; DELETE it first"
                )
        return [self._add_agent(t, hostname=hostname, **kwargs) for _ in range(count)]

    @_op
    def remove_agent(self, t: float, agent_id: str) -> Effects:
        """The agent is lost (health checks time out): Mesos marks it unreachable."""
        agent = self.agents.get(agent_id)
        if agent is None:
            raise ControlError(404, f"no agent {agent_id!r} is registered")
        fx = Effects()
        for offer_id in sorted(agent.offer_ids):
            self._rescind(self.offers[offer_id], fx)
        for fid, tid in sorted(agent.tasks):
            fw = self.frameworks.get(fid)
            task = fw.tasks.get(tid) if fw else None
            if task is None:
                continue
            # master.cpp __removeSlave: TASK_UNREACHABLE (TASK_LOST unless
            # PARTITION_AWARE), SOURCE_MASTER, REASON_SLAVE_REMOVED (v1 name
            # REASON_AGENT_REMOVED), with unreachable_time and no uuid.
            task.step_gen += 1
            task.state = "TASK_UNREACHABLE"
            task.statuses.append((task.state, t))
            task.unreachable_time = t
            task.pending.clear()
            del fw.tasks[tid]
            fw.unreachable[tid] = task
            self._emit_master_update(
                fw,
                self._status(
                    fw,
                    tid,
                    "TASK_UNREACHABLE",
                    "SOURCE_MASTER",
                    t,
                    agent_id=agent_id,
                    executor_id=task.executor_id if task.custom_executor else None,
                    reason="REASON_AGENT_REMOVED",
                    message="health check timed out",
                    unreachable_time=t,
                ),
                fx,
            )
        # Terminal tasks still waiting for an acknowledgement lose their agent too.
        for fw in self.frameworks.values():
            for task in list(fw.tasks.values()):
                if task.agent_id == agent_id:
                    task.pending.clear()
                    del fw.tasks[task.id]
                    fw.completed_tasks.append(task)
        for fw in self.frameworks.values():
            fw.filters.pop(agent_id, None)
            if fw.connected:
                fx.emit(fw.id, {"type": "FAILURE", "failure": {"agent_id": _id(agent_id)}})
        del self.agents[agent_id]
        self._offerable.pop(agent_id, None)
        if self._hostnames.get(agent.hostname) == agent_id:
            del self._hostnames[agent.hostname]
        self.unreachable_agents[agent_id] = t
        return fx

    @_op
    def set_usage(self, t: float, agent_id: str, usage: Resources) -> Effects:
        """Resources used on the agent by frameworks outside the simulation."""
        agent = self.agents.get(agent_id)
        if agent is None:
            raise ControlError(404, f"no agent {agent_id!r} is registered")
        fx = Effects()
        agent.other_used = usage
        agent.touch()
        # Rescind the newest offers until the outstanding ones fit again.
        capacity = agent.total - (agent.other_used + agent.task_used)
        for offer_id in sorted(agent.offer_ids, key=lambda o: self.offers[o].created, reverse=True):
            if capacity.contains(agent.offered):
                break
            self._rescind(self.offers[offer_id], fx)
        self._mark_offerable(agent)
        return fx

    # -- offers --

    def _remove_offer(self, offer: Offer) -> None:
        del self.offers[offer.id]
        fw = self.frameworks.get(offer.framework_id)
        if fw is not None:
            fw.offers.discard(offer.id)
        agent = self.agents.get(offer.agent_id)
        if agent is not None:
            agent.offer_ids.discard(offer.id)
            agent.offered = agent.offered - offer.resources
            agent.touch()
            self._mark_offerable(agent)

    def _rescind(self, offer: Offer, fx: Effects) -> None:
        self._remove_offer(offer)
        fw = self.frameworks.get(offer.framework_id)
        if fw is not None and fw.connected:
            fx.emit(fw.id, {"type": "RESCIND", "rescind": {"offer_id": _id(offer.id)}})

    def _add_filter(self, fw: Framework, agent_id: str, refused: Resources, seconds: float, t: float) -> None:
        if seconds <= 0 or refused.is_empty():
            return
        # A filter lasts at least one allocation interval (hierarchical.cpp).
        expires = t + max(seconds, self.config.allocation_interval_s)
        fw.filters.setdefault(agent_id, []).append(RefuseFilter(expires, refused))

    @staticmethod
    def _filtered_until(fw: Framework, agent_id: str, available: Resources, t: float) -> float | None:
        """None if `fw` may be offered `available` now, else when its filters lift."""
        filters = fw.filters.get(agent_id)
        if not filters:
            return None
        live = [f for f in filters if f.expires > t]
        if len(live) != len(filters):
            if live:
                fw.filters[agent_id] = live
            else:
                del fw.filters[agent_id]
        # Like RefusedOfferFilter: only resources within the refused ones are held back.
        blocking = [f.expires for f in live if f.refused.contains(available)]
        return max(blocking) if blocking else None

    def _reconsider_all_agents(self) -> None:
        """A framework became eligible for offers: every agent is a candidate again."""
        for agent_id in self.agents:
            self._offerable.setdefault(agent_id, None)

    def offer_json(self, offer: Offer, fw: Framework) -> dict:
        agent = self.agents[offer.agent_id]
        role = offer.role if fw.multi_role else None
        out = {
            "id": _id(offer.id),
            "framework_id": _id(fw.id),
            "agent_id": _id(agent.id),
            "hostname": agent.hostname,
            "url": {
                "scheme": "http",
                "address": {"hostname": agent.hostname, "ip": agent.ip, "port": AGENT_PORT},
                "path": "/slave(1)",
            },
            "resources": offer.resources.to_protobuf_list(role),
        }
        if agent.attributes:
            out["attributes"] = agent.attributes_json()
        if role is not None:
            out["allocation_info"] = {"role": role}
        return out

    @_op
    def allocate(self, t: float) -> Effects:
        """One allocation cycle: offer every agent's available resources."""
        fx = Effects()
        while self._parked and self._parked[0][0] <= t:
            _, agent_id = heapq.heappop(self._parked)
            if agent_id in self.agents:
                self._offerable[agent_id] = None
        eligible = [(fw, fw.offer_role()) for fw in self.frameworks.values() if fw.connected]
        eligible = [(fw, role) for fw, role in eligible if role is not None]
        if not eligible or not self._offerable:
            return fx
        # A cheap DRF: the framework with the smallest cpus share goes first.
        shares: dict[str, float] = {}
        if len(eligible) > 1:
            for fw, _ in eligible:
                shares[fw.id] = sum(self.offers[o].resources.cpus for o in fw.offers) + sum(
                    task.resources.cpus for task in fw.tasks.values() if not task.terminal
                )
        made: dict[str, list[dict]] = {}
        for agent_id in list(self._offerable):
            agent = self.agents[agent_id]
            available = agent.available()
            if not available.allocatable():
                del self._offerable[agent_id]
                continue
            candidates = eligible if len(eligible) == 1 else sorted(eligible, key=lambda item: shares[item[0].id])
            lifts = math.inf
            for fw, role in candidates:
                if agent.has_gpus() and "GPU_RESOURCES" not in fw.capabilities:
                    continue
                until = self._filtered_until(fw, agent_id, available, t)
                if until is not None:
                    lifts = min(lifts, until)
                    continue
                offer = Offer(f"{self.master_id}-O{next(self._offer_seq)}", fw.id, agent_id, available, role, t)
                self.offers[offer.id] = offer
                fw.offers.add(offer.id)
                agent.offer_ids.add(offer.id)
                agent.offered = agent.offered + available
                agent.touch()
                del self._offerable[agent_id]
                if shares:
                    shares[fw.id] += available.cpus
                made.setdefault(fw.id, []).append(self.offer_json(offer, fw))
                break
            else:
                # Nobody may have it now: park the agent until a filter lifts
                # (or a framework subscribes or revives), so that cycles over
                # 10,000 declined agents cost nothing.
                del self._offerable[agent_id]
                if lifts < math.inf:
                    heapq.heappush(self._parked, (lifts, agent_id))
        size = self.config.max_offers_per_event
        for fid, offers in made.items():
            for i in range(0, len(offers), size):
                fx.emit(fid, {"type": "OFFERS", "offers": {"offers": offers[i : i + size]}})
        return fx

    # -- subscription and failover --

    @_op
    def subscribe(self, t: float, call: dict, stream_id: str) -> SubscribeResult:
        sub = call["subscribe"]
        info = sub["framework_info"]
        fx = Effects()
        error = validate_framework_info(info)
        if error:
            return SubscribeResult(None, None, error, fx)
        framework_id = info.get("id", {}).get("value")
        if framework_id is not None and framework_id in self.removed_framework_ids:
            return SubscribeResult(None, None, "Framework has been removed", fx)
        fw = self.frameworks.get(framework_id) if framework_id else None
        if fw is None:
            # A new framework, or one a restarted master does not know yet
            # (Mesos recovers it from the FrameworkInfo).
            framework_id = framework_id or f"{self.master_id}-{next(self._framework_seq):04d}"
            fw = Framework(framework_id, info, t)
            self.frameworks[framework_id] = fw
        else:
            if fw.stream_id is not None:
                fx.closes.append(StreamClose(fw.stream_id, "Framework failed over"))
            for offer_id in sorted(fw.offers):
                self._remove_offer(self.offers[offer_id])
            fw.update_info(info)
            fw.reregistered_time = t
        fw.connected = True
        fw.stream_id = stream_id
        fw.failover_gen += 1
        fw.failover_deadline = None
        fw.unregistered_time = None
        fw.filters.clear()
        fw.suppressed = set(sub.get("suppressed_roles", []))
        subscribed = {
            "type": "SUBSCRIBED",
            "subscribed": {
                "framework_id": _id(fw.id),
                "heartbeat_interval_seconds": float(self.config.heartbeat_interval_s),
                "master_info": self.master_info(),
            },
        }
        for task in fw.tasks.values():
            if task.pending:
                self._send_head(task, t, fx)
        self._reconsider_all_agents()
        return SubscribeResult(fw.id, subscribed, None, fx)

    @_op
    def disconnect(self, t: float, framework_id: str, stream_id: str) -> Effects:
        """The subscription connection broke (only the current stream counts)."""
        fx = Effects()
        fw = self.frameworks.get(framework_id)
        if fw is None or fw.stream_id != stream_id:
            return fx
        self._deactivate(fw, t)
        timeout = fw.failover_timeout
        if timeout <= 0 or math.isnan(timeout):
            self._remove_framework(fw, t, fx)
        elif math.isfinite(timeout):
            fw.failover_deadline = t + timeout
            self._arm(t + timeout, "failover", fw.id, fw.failover_gen)
        return fx

    def _deactivate(self, fw: Framework, t: float) -> None:
        fw.connected = False
        fw.stream_id = None
        fw.unregistered_time = t
        fw.failover_gen += 1
        fw.failover_deadline = None
        # Offers are rescinded, but the message cannot reach a disconnected framework.
        for offer_id in sorted(fw.offers):
            self._remove_offer(self.offers[offer_id])
        fw.filters.clear()

    @_op
    def teardown(self, t: float, framework_id: str) -> Effects:
        fx = Effects()
        fw = self.frameworks.get(framework_id)
        if fw is not None:
            self._remove_framework(fw, t, fx)
        return fx

    def _remove_framework(self, fw: Framework, t: float, fx: Effects) -> None:
        """Framework removed: its tasks are killed, its id can never subscribe again."""
        if fw.stream_id is not None:
            fx.closes.append(StreamClose(fw.stream_id))
        for offer_id in sorted(fw.offers):
            self._remove_offer(self.offers[offer_id])
        for task in list(fw.tasks.values()):
            task.step_gen += 1
            task.pending.clear()
            if not task.terminal:
                task.state = "TASK_KILLED"
                task.statuses.append((task.state, t))
                self._free_task_resources(task)
            fw.completed_tasks.append(task)
        fw.tasks.clear()
        fw.connected = False
        fw.stream_id = None
        fw.failover_gen += 1
        fw.failover_deadline = None
        fw.unregistered_time = t
        del self.frameworks[fw.id]
        self.removed_framework_ids.add(fw.id)
        self.completed_frameworks[fw.id] = fw
        while len(self.completed_frameworks) > COMPLETED_FRAMEWORKS_KEPT:
            self.completed_frameworks.popitem(last=False)

    @_op
    def master_failover(self, t: float) -> Effects:
        """The master process restarts (or loses leadership): every stream drops.

        Agents, tasks and frameworks are kept (agents re-register with a new
        master and report their tasks). Offers and filters are gone. Failover
        timeouts are not persisted across a master failover (MESOS-4659), so no
        framework is removed for not coming back.
        """
        fx = Effects()
        for fw in self.frameworks.values():
            if fw.stream_id is not None:
                fx.closes.append(StreamClose(fw.stream_id, abort=True))
            fw.connected = False
            fw.stream_id = None
            fw.unregistered_time = t
            fw.failover_gen += 1
            fw.failover_deadline = None
            fw.filters.clear()
            fw.suppressed.clear()
        for offer in list(self.offers.values()):
            self._remove_offer(offer)
        self.master_id = str(self._new_uuid())
        return fx

    def elect(self, t: float) -> None:
        self.elected_time = t

    # -- calls --

    @_op
    def accept(self, t: float, framework_id: str, accept: dict) -> Effects:
        fx = Effects()
        fw = self.frameworks[framework_id]
        offer_ids = [o["value"] for o in accept.get("offer_ids", [])]
        operations = accept.get("operations", [])
        error = self._validate_offers(fw, offer_ids) if offer_ids else "No offers specified"
        if error is not None:
            for offer_id in offer_ids:
                offer = self.offers.get(offer_id)
                if offer is not None and offer.framework_id == fw.id:
                    self._remove_offer(offer)
            state = "TASK_DROPPED" if fw.partition_aware else "TASK_LOST"
            for task_info in self._launch_tasks(operations):
                self._emit_master_update(
                    fw,
                    self._status(
                        fw,
                        task_info["task_id"]["value"],
                        state,
                        "SOURCE_MASTER",
                        t,
                        agent_id=task_info["agent_id"]["value"],
                        reason="REASON_INVALID_OFFERS",
                        message=f"Task launched with invalid offers: {error}",
                    ),
                    fx,
                )
            return fx

        offers = [self.offers[o] for o in offer_ids]
        agent = self.agents[offers[0].agent_id]
        role = offers[0].role
        pool = EMPTY
        for offer in offers:
            pool = pool + offer.resources
            self._remove_offer(offer)
        box = [pool]  # what is left of the offered resources
        for operation in operations:
            kind = operation.get("type")
            if kind == "LAUNCH":
                for task_info in operation.get("launch", {}).get("task_infos", []):
                    self._launch(fw, agent, role, task_info, box, t, fx)
            elif kind == "LAUNCH_GROUP" and "launch_group" in operation:
                self._launch_group(fw, agent, role, operation["launch_group"], box, t, fx)
            # Other operations (reservations, volumes) are not simulated.
        # Unused resources count as declined with the ACCEPT's filter.
        self._add_filter(fw, agent.id, box[0], refuse_seconds(accept.get("filters")), t)
        self._mark_offerable(agent)
        return fx

    @staticmethod
    def _launch_tasks(operations: list[dict]) -> Iterable[dict]:
        for operation in operations:
            if operation.get("type") == "LAUNCH":
                yield from operation.get("launch", {}).get("task_infos", [])
            elif operation.get("type") == "LAUNCH_GROUP":
                yield from operation.get("launch_group", {}).get("task_group", {}).get("tasks", [])

    def _validate_offers(self, fw: Framework, offer_ids: list[str]) -> str | None:
        """validation::offer::validate, in Mesos' order."""
        seen = set()
        for offer_id in offer_ids:
            if offer_id in seen:
                return f"Duplicate offer {offer_id} in offer list"
            seen.add(offer_id)
        for offer_id in offer_ids:
            if offer_id not in self.offers:
                return f"Offer {offer_id} is no longer valid"
        for offer_id in offer_ids:
            offer = self.offers[offer_id]
            if offer.framework_id != fw.id:
                return (
                    f"Offer {offer_id} has invalid framework {offer.framework_id} while framework {fw.id} is expected"
                )
        first = self.offers[offer_ids[0]]
        for offer_id in offer_ids[1:]:
            offer = self.offers[offer_id]
            if offer.role != first.role:
                return (
                    f"Aggregated offers must be allocated to the same role. Offer {offer_id} "
                    f"uses role {offer.role} and offer {first.id} uses role {first.role}"
                )
        for offer_id in offer_ids[1:]:
            offer = self.offers[offer_id]
            if offer.agent_id != first.agent_id:
                return (
                    f"Aggregated offers must belong to one single agent. Offer {offer_id} "
                    f"uses agent {offer.agent_id} and offer {first.id} uses agent "
                    f"{first.agent_id}"
                )
        return None

    def _task_error(self, fw: Framework, task_info: dict, message: str, t: float, fx: Effects) -> None:
        self._emit_master_update(
            fw,
            self._status(
                fw,
                task_info["task_id"]["value"],
                "TASK_ERROR",
                "SOURCE_MASTER",
                t,
                agent_id=task_info["agent_id"]["value"],
                reason="REASON_TASK_INVALID",
                message=message,
            ),
            fx,
        )

    def _validate_task(
        self, fw: Framework, agent: Agent, task_info: dict, siblings: set[str] = frozenset()
    ) -> tuple[str | None, Resources, list[str]]:
        """validation::task::internal::validateTask; returns (error, resources, foreign)."""
        task_id = task_info["task_id"]["value"]
        error = _validate_id(task_id)
        if error:
            return error, EMPTY, []
        if task_id in fw.tasks or task_id in siblings:
            return f"Task has duplicate ID: {task_id}", EMPTY, []
        if task_id in fw.unreachable:
            return f"Task reuses the ID of an unreachable task: {task_id}", EMPTY, []
        agent_id = task_info["agent_id"]["value"]
        if agent_id != agent.id:
            return f"Task uses invalid agent {agent_id} while agent {agent.id} is expected", EMPTY, []
        grace = task_info.get("kill_policy", {}).get("grace_period", {}).get("nanoseconds", 0)
        if grace < 0:
            return "Task's 'kill_policy.grace_period' must be non-negative", EMPTY, []
        if task_info.get("max_completion_time", {}).get("nanoseconds", 0) < 0:
            return "Task's `max_completion_time` must be non-negative", EMPTY, []
        if not task_info.get("resources"):
            return "Task uses no resources", EMPTY, []
        try:
            resources, foreign = from_protobuf_list(task_info["resources"])
        except ResourceProblem as exc:
            return f"Task uses invalid resources: {exc}", EMPTY, []
        return None, resources, foreign

    def _executor_resources(self, fw: Framework, executor: dict) -> tuple[str | None, Resources, list[str]]:
        if "framework_id" in executor and executor["framework_id"]["value"] != fw.id:
            return (
                (
                    f"ExecutorInfo has an invalid FrameworkID (Actual: "
                    f"{executor['framework_id']['value']} vs Expected: {fw.id})"
                ),
                EMPTY,
                [],
            )
        try:
            resources, foreign = from_protobuf_list(executor.get("resources", []))
        except ResourceProblem as exc:
            return f"Executor uses invalid resources: {exc}", EMPTY, []
        return None, resources, foreign

    @staticmethod
    def _describe(resources: Resources, foreign: list[str], role: str) -> str:
        text = resources.describe(role)
        if foreign:
            text = "; ".join([t for t in [text] if t] + foreign)
        return text

    def _plan(self, task_info: dict) -> tuple[Outcome | None, str | None]:
        try:
            return self.outcomes.plan(task_info), None
        except OutcomeError as exc:
            return None, f"Simulator: {exc}"

    def _launch(
        self, fw: Framework, agent: Agent, role: str, task_info: dict, box: list, t: float, fx: Effects
    ) -> None:
        error, resources, foreign = self._validate_task(fw, agent, task_info)
        executor = task_info.get("executor")
        if error is None and (executor is None) == ("command" not in task_info):
            error = "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present"
        total, executor_id, new_executor = resources, task_info["task_id"]["value"], None
        if error is None and executor is not None:
            if executor.get("type", "CUSTOM") != "CUSTOM":
                error = "'ExecutorInfo.type' must be 'CUSTOM'"
            elif "command" not in executor:
                error = "'ExecutorInfo.command' must be set"
            else:
                error, ex_resources, ex_foreign = self._executor_resources(fw, executor)
                executor_id = executor["executor_id"]["value"]
                if (fw.id, executor_id) not in agent.executors:
                    new_executor = ex_resources
                    total = total + ex_resources
                    foreign = foreign + ex_foreign
        if error is None and (foreign or not box[0].contains(total)):
            error = (
                f"Total resources {self._describe(total, foreign, role)} required by task "
                f"and its executor is more than available {box[0].describe(role)}"
            )
        outcome = None
        if error is None:
            outcome, error = self._plan(task_info)
        if error is not None:
            self._task_error(fw, task_info, error, t, fx)
            return
        box[0] = box[0] - total
        self._start_task(
            fw, agent, role, task_info, executor_id, executor is not None, resources, new_executor, outcome, t
        )

    def _launch_group(
        self, fw: Framework, agent: Agent, role: str, group: dict, box: list, t: float, fx: Effects
    ) -> None:
        executor = group["executor"]
        tasks = group["task_group"].get("tasks", [])
        error = None
        if executor.get("type") != "DEFAULT":
            error = "'ExecutorInfo.type' must be 'DEFAULT'"
        ex_error, ex_resources, foreign = self._executor_resources(fw, executor)
        error = error or ex_error
        executor_id = executor["executor_id"]["value"]
        new_executor = None if (fw.id, executor_id) in agent.executors else ex_resources
        total = new_executor or EMPTY
        plans: list[tuple[dict, Resources, Outcome]] = []
        seen: set[str] = set()
        for task_info in tasks:
            if error is not None:
                break
            task_error, resources, task_foreign = self._validate_task(fw, agent, task_info, seen)
            seen.add(task_info["task_id"]["value"])
            if task_error is None and task_info.get("container", {}).get("type") == "DOCKER":
                task_error = "Docker ContainerInfo is not supported on the task"
            outcome = None
            if task_error is None:
                outcome, task_error = self._plan(task_info)
            error = task_error
            total = total + resources
            foreign = foreign + task_foreign
            plans.append((task_info, resources, outcome))
        if error is None and (foreign or not box[0].contains(total)):
            error = (
                f"Total resources {self._describe(total, foreign, role)} required by task "
                f"group and its executor are more than available {box[0].describe(role)}"
            )
        if error is not None:
            for task_info in tasks:
                self._task_error(fw, task_info, error, t, fx)
            return
        box[0] = box[0] - total
        for task_info, resources, outcome in plans:
            self._start_task(fw, agent, role, task_info, executor_id, True, resources, new_executor, outcome, t)
            new_executor = None

    def _start_task(
        self,
        fw: Framework,
        agent: Agent,
        role: str,
        task_info: dict,
        executor_id: str,
        custom_executor: bool,
        resources: Resources,
        new_executor: Resources | None,
        outcome: Outcome,
        t: float,
    ) -> None:
        task = Task(fw.id, agent.id, task_info, executor_id, custom_executor, resources, role, outcome, t)
        task.statuses.append((task.state, t))
        fw.tasks[task.id] = task
        agent.tasks.add((fw.id, task.id))
        used = resources
        if custom_executor:
            key = (fw.id, executor_id)
            if key not in agent.executors:
                agent.executors[key] = [new_executor or EMPTY, 0]
                used = used + (new_executor or EMPTY)
            agent.executors[key][1] += 1
        agent.task_used = agent.task_used + used
        agent.touch()
        self._arm(t + self.config.task_start_delay_s, "step", fw.id, task.id, task.step_gen, "starting")

    @_op
    def decline(self, t: float, framework_id: str, decline: dict) -> Effects:
        fw = self.frameworks[framework_id]
        seconds = refuse_seconds(decline.get("filters"))
        for item in decline.get("offer_ids", []):
            offer = self.offers.get(item["value"])
            if offer is None or offer.framework_id != fw.id:
                continue  # Mesos logs a warning and ignores it
            self._remove_offer(offer)
            self._add_filter(fw, offer.agent_id, offer.resources, seconds, t)
        return Effects()

    @_op
    def revive(self, t: float, framework_id: str, roles: list[str]) -> Effects:
        fw = self.frameworks[framework_id]
        fw.filters.clear()
        if roles:
            fw.suppressed.difference_update(roles)
        else:
            fw.suppressed.clear()
        self._reconsider_all_agents()
        return Effects()

    @_op
    def suppress(self, t: float, framework_id: str, roles: list[str]) -> Effects:
        fw = self.frameworks[framework_id]
        fw.suppressed.update(roles or fw.roles)
        return Effects()

    @_op
    def kill(self, t: float, framework_id: str, task_id: str, agent_id: str | None = None) -> Effects:
        fx = Effects()
        fw = self.frameworks[framework_id]
        task = fw.tasks.get(task_id)
        if task is None:
            # Master::kill: an unknown task gets an explicit reconciliation answer.
            self._emit_master_update(fw, self._reconcile_one(fw, task_id, agent_id, t), fx)
            return fx
        if task.terminal or task.kill_requested:
            return fx
        task.kill_requested = True
        task.step_gen += 1  # the task will not reach its planned end any more
        if task.state == "TASK_STAGING":
            step = "killed_during_launch"
        else:
            step = "killed"
            if "TASK_KILLING_STATE" in fw.capabilities:
                self._executor_update(task, "TASK_KILLING", t, fx)
        self._arm(t + self.config.kill_delay_s, "step", fw.id, task.id, task.step_gen, step)
        return fx

    @_op
    def acknowledge(self, t: float, framework_id: str, agent_id: str, task_id: str, uuid: bytes) -> Effects:
        fx = Effects()
        fw = self.frameworks[framework_id]
        task = fw.tasks.get(task_id)
        if task is None or not task.pending or task.agent_id != agent_id:
            return fx
        head = task.pending[0]
        if base64.b64decode(head["uuid"]) != uuid:
            return fx  # not the update the agent waits for: ignored
        task.pending.popleft()
        task.retry_token += 1  # cancels the retry timer of the acknowledged update
        if head["state"] in TERMINAL_STATES:
            # The terminal update is acknowledged: the master forgets the task.
            del fw.tasks[task_id]
            fw.completed_tasks.append(task)
        elif task.pending:
            self._send_head(task, t, fx)
        return fx

    def _reconcile_one(self, fw: Framework, task_id: str, agent_id: str | None, t: float) -> dict:
        """Master::reconcile, explicit case, for one task."""
        task = fw.tasks.get(task_id)
        if task is not None:
            return self._latest_status(fw, task, t)
        task = fw.unreachable.get(task_id)
        if task is not None:
            return self._unreachable_status(fw, task, t)
        if agent_id is not None and agent_id in self.agents:
            return self._status(
                fw,
                task_id,
                "TASK_GONE",
                "SOURCE_MASTER",
                t,
                agent_id=agent_id,
                reason="REASON_RECONCILIATION",
                message="Reconciliation: Task is unknown to the agent",
            )
        if agent_id is not None and agent_id in self.unreachable_agents:
            return self._status(
                fw,
                task_id,
                "TASK_UNREACHABLE",
                "SOURCE_MASTER",
                t,
                agent_id=agent_id,
                reason="REASON_RECONCILIATION",
                message="Reconciliation: Task is unreachable",
                unreachable_time=self.unreachable_agents[agent_id],
            )
        return self._status(
            fw,
            task_id,
            "TASK_UNKNOWN",
            "SOURCE_MASTER",
            t,
            agent_id=agent_id,
            reason="REASON_RECONCILIATION",
            message="Reconciliation: Task is unknown",
        )

    def _latest_status(self, fw: Framework, task: Task, t: float) -> dict:
        return self._status(
            fw,
            task.id,
            task.status_update_state or task.state,
            "SOURCE_MASTER",
            t,
            agent_id=task.agent_id,
            executor_id=task.executor_id if task.custom_executor else None,
            reason="REASON_RECONCILIATION",
            message="Reconciliation: Latest task state",
        )

    def _unreachable_status(self, fw: Framework, task: Task, t: float) -> dict:
        return self._status(
            fw,
            task.id,
            "TASK_UNREACHABLE",
            "SOURCE_MASTER",
            t,
            agent_id=task.agent_id,
            executor_id=task.executor_id if task.custom_executor else None,
            reason="REASON_RECONCILIATION",
            message="Reconciliation: Task is unreachable",
            unreachable_time=task.unreachable_time,
        )

    @_op
    def reconcile(self, t: float, framework_id: str, tasks: list[dict]) -> Effects:
        fx = Effects()
        fw = self.frameworks[framework_id]
        if not tasks:
            statuses = [self._latest_status(fw, task, t) for task in fw.tasks.values()]
            statuses += [self._unreachable_status(fw, task, t) for task in fw.unreachable.values()]
        else:
            statuses = [
                self._reconcile_one(fw, item["task_id"]["value"], item.get("agent_id", {}).get("value"), t)
                for item in tasks
            ]
        for status in statuses:
            self._emit_master_update(fw, status, fx)
        return fx

    @_op
    def update_framework(self, t: float, framework_id: str, update: dict) -> tuple[str | None, Effects]:
        """UPDATE_FRAMEWORK: (error message for a 400, effects)."""
        fx = Effects()
        fw = self.frameworks[framework_id]
        info = update["framework_info"]
        error = validate_framework_info(info)
        if error is None:
            for name in ("principal", "user", "checkpoint"):
                if info.get(name) != fw.info.get(name):
                    error = f"Updating 'FrameworkInfo.{name}' is unsupported"
                    break
        if error is not None:
            return error, fx
        old_roles = set(fw.roles)
        fw.update_info(info)
        fw.suppressed = set(update.get("suppressed_roles", []))
        removed = old_roles - set(fw.roles)
        for offer_id in sorted(fw.offers):
            if self.offers[offer_id].role in removed:
                self._rescind(self.offers[offer_id], fx)
        self._reconsider_all_agents()
        return None, fx

    # -- control --

    @_op
    def end_task(self, t: float, task: Task, spec: dict) -> Effects:
        """PUT /sim/tasks/{id}: end the task now or change how long it runs."""
        fx = Effects()
        if task.terminal or task.kill_requested:
            raise ControlError(
                409, f"task {task.id} is already {task.state}" + (" (being killed)" if task.kill_requested else "")
            )
        if not isinstance(spec, dict) or not spec:
            raise ControlError(400, 'expected {"state": ..., "exit_code": ...} or {"duration": s}')
        unknown = set(spec) - {"state", "exit_code", "duration", "message", "reason"}
        if unknown:
            raise ControlError(400, f"unknown field(s): {', '.join(sorted(unknown))}")
        try:
            outcome = apply_spec(
                task.outcome,
                state=spec.get("state"),
                exit_code=spec.get("exit_code"),
                duration=spec.get("duration"),
                message=spec.get("message"),
                reason=spec.get("reason"),
            )
        except OutcomeError as exc:
            raise ControlError(400, str(exc)) from None
        task.outcome = outcome
        if "duration" not in spec:
            state, source, reason, message = outcome.final_status()
            self._terminate(task, state, t, fx, source=source, reason=reason, message=message)
        elif task.state == "TASK_RUNNING":
            task.step_gen += 1
            if math.isfinite(outcome.duration):
                self._arm(t + outcome.duration, "step", task.framework_id, task.id, task.step_gen, "finish")
        # A task not yet RUNNING picks the new duration up when it gets there.
        return fx

    # -- timers --

    @_op
    def advance(self, t: float) -> Effects:
        """Fire every timer due at or before `t`, in order."""
        fx = Effects()
        while self._timers and self._timers[0][0] <= t:
            due, _, kind, args = heapq.heappop(self._timers)
            getattr(self, f"_on_{kind}")(due, fx, *args)
        return fx

    def _on_step(self, t: float, fx: Effects, framework_id: str, task_id: str, gen: int, step: str) -> None:
        fw = self.frameworks.get(framework_id)
        task = fw.tasks.get(task_id) if fw else None
        if task is None or task.step_gen != gen or task.terminal:
            return
        if step == "starting":
            self._executor_update(task, "TASK_STARTING", t, fx)
            self._arm(t + self.config.task_start_delay_s, "step", fw.id, task.id, gen, "running")
        elif step == "running":
            self._executor_update(task, "TASK_RUNNING", t, fx)
            if math.isfinite(task.outcome.duration):
                self._arm(t + task.outcome.duration, "step", fw.id, task.id, gen, "finish")
        elif step == "finish":
            state, source, reason, message = task.outcome.final_status()
            self._terminate(task, state, t, fx, source=source, reason=reason, message=message)
        elif step == "killed":
            self._terminate(
                task,
                "TASK_KILLED",
                t,
                fx,
                source="SOURCE_EXECUTOR",
                message="Command terminated with signal Terminated",
            )
        elif step == "killed_during_launch":
            self._terminate(
                task,
                "TASK_KILLED",
                t,
                fx,
                source="SOURCE_AGENT",
                reason="REASON_TASK_KILLED_DURING_LAUNCH",
                message="Killed before delivery to the executor",
            )

    def _on_retry(self, t: float, fx: Effects, framework_id: str, task_id: str, token: int) -> None:
        fw = self.frameworks.get(framework_id)
        task = fw.tasks.get(task_id) if fw else None
        if task is None or not task.pending or task.retry_token != token:
            return
        self._send_head(task, t, fx)

    def _on_failover(self, t: float, fx: Effects, framework_id: str, gen: int) -> None:
        fw = self.frameworks.get(framework_id)
        if fw is None or fw.failover_gen != gen or fw.connected:
            return
        self._remove_framework(fw, t, fx)

    # -- views --

    def task_counts(self) -> dict[str, int]:
        counts: dict[str, int] = collections.Counter()
        for fw in self.frameworks.values():
            for task in fw.tasks.values():
                counts[task.state] += 1
            for task in fw.unreachable.values():
                counts[task.state] += 1
        return dict(counts)
