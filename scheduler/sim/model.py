"""The simulated master's objects: agents, offers, refuse filters, tasks, frameworks.

Plain Python objects, no I/O and no asyncio, plus the validation helpers of
Mesos' `common::validation` and `validateFrameworkInfo` the simulator checks.
"""

from __future__ import annotations

import collections
import math

from scheduler.sim.options import FINAL_STATES
from scheduler.sim.outcomes import Outcome
from scheduler.sim.resources import EMPTY, Resources

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


def refuse_seconds(filters: dict | None) -> float:
    """Duration of the refuse filter of an ACCEPT/DECLINE (0 = no filter)."""
    value = DEFAULT_REFUSE_SECONDS if filters is None else filters.get("refuse_seconds", DEFAULT_REFUSE_SECONDS)
    if math.isnan(value) or value < 0:
        return DEFAULT_REFUSE_SECONDS
    return min(value, MAX_REFUSE_SECONDS)


def id_json(value: str) -> dict:
    """A protobuf ID message in JSON (`{"value": ...}`)."""
    return {"value": value}


def validate_id(value: str) -> str | None:
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
        "partitioned",
        "partition_gen",
        "unreachable_since",
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
        # A network partition between master and agent: the agent and its tasks go on,
        # nothing passes. After the ping timeouts the master marks it unreachable.
        self.partitioned = False
        self.partition_gen = 0  # cancels the pending "mark unreachable" timer on heal
        self.unreachable_since: float | None = None
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
        "retry_interval",
        "step_gen",
        "outcome",
        "kill_requested",
        "launched_at",
        "unreachable_time",
        "json_cache",
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
        self.retry_interval = 0.0  # of the update in flight; doubles on each re-send
        self.step_gen = 0
        self.outcome = outcome
        self.kill_requested = False
        self.launched_at = t
        self.unreachable_time: float | None = None
        # (state, statuses seen) -> the task's JSON for the state endpoints: with 100,000 tasks
        # ``/master/state`` would otherwise rebuild every entry on every read.
        self.json_cache: tuple[tuple[str, int], dict] | None = None

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
        # Like Mesos' per-framework metrics (calls/<type>, offers/sent), for /sim/state.
        self.calls: collections.Counter[str] = collections.Counter()
        self.offers_sent = 0
        self.update_info(info)

    def update_info(self, info: dict) -> None:
        info = dict(info)
        info["id"] = id_json(self.id)
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
