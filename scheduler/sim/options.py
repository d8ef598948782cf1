"""Settings of the simulated Mesos master.

One frozen dataclass so a simulator can be described by value (tests build many
with short intervals, the CLI builds one from flags) and never changes under a
running master; the control API changes the *state*, not the configuration.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

# TaskStates a task may be steered to end in (terminal states of mesos.proto).
FINAL_STATES = frozenset(
    {
        "TASK_FINISHED",
        "TASK_FAILED",
        "TASK_KILLED",
        "TASK_ERROR",
        "TASK_LOST",
        "TASK_DROPPED",
        "TASK_GONE",
        "TASK_GONE_BY_OPERATOR",
    }
)


MAX_CALL_LATENCY_MS = 60_000.0


def parse_port_ranges(text: str) -> tuple[tuple[int, int], ...]:
    """Parse "31000-32000" or "[31000-31999, 33000-33000]" into ranges.

    Accepts both the flag style and the style Mesos prints in /master/slaves, so a
    value copied from a real cluster works.
    """
    body = text.strip()
    if body.startswith("[") and body.endswith("]"):
        body = body[1:-1]
    ranges = []
    for part in body.split(","):
        part = part.strip()
        if not part:
            continue
        begin, sep, end = part.partition("-")
        try:
            b = int(begin)
            e = int(end) if sep else b
        except ValueError:
            raise ValueError(f"invalid port range {part!r} in {text!r}") from None
        if b < 0 or e < b or e > 65535:
            raise ValueError(f"invalid port range {part!r} in {text!r}")
        ranges.append((b, e))
    return tuple(ranges)


@dataclass(frozen=True)
class SimConfig:
    agents: int = 3
    agent_cpus: float = 4.0
    agent_mem: float = 8192.0  # MB, as Mesos counts mem
    agent_disk: float = 65536.0  # MB
    agent_gpus: float = 0.0
    agent_ports: str = "31000-32000"
    hostname_prefix: str = "agent-"
    # Mesos' DEFAULT_HEARTBEAT_INTERVAL is 15 s; tests shorten it.
    heartbeat_interval_s: float = 15.0
    # --allocation_interval of the hierarchical allocator (default 1 s).
    allocation_interval_s: float = 1.0
    # How often the agent re-sends a uuid'd update nobody acknowledged.
    # The agent's status update manager: first re-send after update_retry_s
    # (STATUS_UPDATE_RETRY_INTERVAL_MIN, 10 s), then doubling up to update_retry_max_s
    # (..._MAX, 10 min). Tests shorten the base.
    update_retry_s: float = 10.0
    update_retry_max_s: float = 600.0
    # Delay of each step STAGING -> STARTING -> RUNNING.
    task_start_delay_s: float = 0.05
    # Default time between TASK_RUNNING and the final update (inf = forever).
    task_duration_s: float = 5.0
    task_final_state: str = "TASK_FINISHED"
    # Time the executor needs to report TASK_KILLED after a KILL.
    kill_delay_s: float = 0.05
    max_offers_per_event: int = 1000
    # Seeds ids, uuids and outcome probabilities so runs are repeatable.
    seed: int = 0
    # "http://host:port" of the leader: this master then answers 307.
    redirect_to: str | None = None
    version: str = "1.11.0"
    # --agent_ping_timeout and --max_agent_ping_timeouts: a partitioned agent is
    # marked unreachable after their product (Mesos defaults: 15 s x 5 = 75 s).
    agent_ping_timeout_s: float = 15.0
    max_agent_ping_timeouts: int = 5
    # Time the master takes to answer each scheduler call (a slow master); PUT /sim/master/latency.
    call_latency_ms: float = 0.0
    # (principal, secret) pairs of --credentials: set, the master authenticates
    # every scheduler call as --authenticate_http_frameworks does. Kept out of repr.
    credentials: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    # --authenticate_http_readonly: /master/state and /master/slaves need credentials too.
    authenticate_readonly: bool = False
    # --authenticate_http_readwrite: the operator API (POST /api/v1) needs credentials too.
    authenticate_readwrite: bool = False

    def __post_init__(self) -> None:
        if self.agents < 0:
            raise ValueError("agents must be >= 0")
        for name in ("agent_cpus", "agent_mem", "agent_disk", "agent_gpus"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0")
        for name in (
            "heartbeat_interval_s",
            "allocation_interval_s",
            "update_retry_s",
            "update_retry_max_s",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0")
        for name in ("task_start_delay_s", "kill_delay_s", "task_duration_s"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0")
        if self.task_final_state not in FINAL_STATES:
            raise ValueError(f"task_final_state must be one of {sorted(FINAL_STATES)}")
        if not (0 < self.agent_ping_timeout_s < math.inf) or self.max_agent_ping_timeouts < 1:
            raise ValueError("agent_ping_timeout_s must be > 0 and max_agent_ping_timeouts >= 1")
        if self.update_retry_max_s < self.update_retry_s:
            raise ValueError("update_retry_max_s must be >= update_retry_s")
        if self.max_offers_per_event < 1:
            raise ValueError("max_offers_per_event must be >= 1")
        parse_port_ranges(self.agent_ports)  # raises on a bad value
        if not 0 <= self.call_latency_ms <= MAX_CALL_LATENCY_MS:
            raise ValueError(f"call_latency_ms must be from 0 to {MAX_CALL_LATENCY_MS}")
        for name in ("authenticate_readonly", "authenticate_readwrite"):
            if getattr(self, name) and not self.credentials:
                raise ValueError(f"{name} needs credentials")

    def replace(self, **changes) -> SimConfig:
        return dataclasses.replace(self, **changes)
