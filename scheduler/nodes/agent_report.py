"""What the master says of one agent in its listing (``scheduler.mesos.agents`` parses it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AgentReport:
    agent_id: str
    hostname: str
    active: bool
    total: dict[str, float]  # every scalar resource of the agent
    used: dict[str, float]  # allocated to the tasks and executors of every framework
    offered: dict[str, float]  # currently offered to any framework
