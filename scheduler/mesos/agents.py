"""The master's own view of its agents (``GET /master/slaves``), as typed reports."""

from __future__ import annotations

import logging
from typing import Any

from scheduler.nodes.agent_report import AgentReport

log = logging.getLogger(__name__)

__all__ = ["AgentReport", "parse_agents"]  # the report is a pure value; re-exported here


def _scalars(value: Any) -> dict[str, float]:
    if not isinstance(value, dict):
        return {}
    # Scalars are JSON numbers; ranges like ports come as strings and are not scalars.
    return {k: float(v) for k, v in value.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def parse_agents(document: Any) -> list[AgentReport]:
    """The agents of a /master/slaves answer; a malformed agent is logged and left out."""
    if not isinstance(document, dict) or not isinstance(document.get("slaves"), list):
        raise ValueError("the answer has no 'slaves' list")
    reports = []
    for agent in document["slaves"]:
        try:
            agent_id, hostname = agent["id"], agent["hostname"]
            if not isinstance(agent_id, str) or not isinstance(hostname, str) or not agent_id or not hostname:
                raise KeyError("id")
        except (KeyError, TypeError) as exc:
            log.warning("Skipping an agent without %s in the master's answer", exc)
            continue
        reports.append(
            AgentReport(
                agent_id=agent_id,
                hostname=hostname,
                active=bool(agent.get("active", True)),
                total=_scalars(agent.get("resources")),
                used=_scalars(agent.get("used_resources")),
                offered=_scalars(agent.get("offered_resources")),
            )
        )
    return reports
