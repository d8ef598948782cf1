"""JSON documents of the master's read-only endpoints and of GET /sim/state.

Pure functions over MasterState. They build plain dicts; the server encodes
them with orjson. At 10,000 agents /master/slaves is one small dict per agent,
built on demand (no per-cycle cost).
"""

from __future__ import annotations

import math

from scheduler.sim.model import AGENT_CAPABILITIES, AGENT_PORT, Agent, Framework, Offer, Task
from scheduler.sim.resources import EMPTY, Resources
from scheduler.sim.state import MasterState

# Mesos 1.11.0 was tagged on 2020-11-16.
BUILD_TIME = 1605484800.0
BUILD_DATE = "2020-11-16 00:00:00"


def version(state: MasterState) -> dict:
    v = state.config.version
    return {
        "build_date": BUILD_DATE,
        "build_time": BUILD_TIME,
        "build_user": "scale-scheduler-sim",
        "git_sha": "",
        "git_tag": v,
        "version": v,
    }


def agent_json(state: MasterState, agent: Agent) -> dict:
    return {
        "id": agent.id,
        "pid": agent.pid,
        "hostname": agent.hostname,
        "port": AGENT_PORT,
        "registered_time": agent.registered_time,
        "active": True,
        "version": state.config.version,
        "attributes": dict(agent.attributes),
        "capabilities": AGENT_CAPABILITIES,
        "resources": agent.total.to_model(),
        # Allocated to tasks and executors of all frameworks, the ones outside
        # the simulation included.
        "used_resources": (agent.other_used + agent.task_used).to_model(),
        "offered_resources": agent.offered.to_model(),
        "reserved_resources": {},
        "unreserved_resources": agent.total.to_model(),
    }


def slaves(state: MasterState) -> dict:
    return {
        "slaves": [agent_json(state, agent) for agent in state.agents.values() if agent.unreachable_since is None],
        "recovered_slaves": [],
    }


def _task_json(task: Task) -> dict:
    # Only the state and the statuses change once a task is made; readers only serialize the result.
    key = (task.state, len(task.statuses))
    cached = task.json_cache
    if cached is not None and cached[0] == key:
        return cached[1]
    entry = {
        "id": task.id,
        "name": task.name,
        "framework_id": task.framework_id,
        "executor_id": task.executor_id if task.custom_executor else "",
        "slave_id": task.agent_id,
        "state": task.state,
        "resources": task.resources.to_model(),
        "role": task.role,
        "statuses": [{"state": s, "timestamp": ts} for s, ts in task.statuses],
        "labels": list(task.labels),
    }
    task.json_cache = (key, entry)
    return entry


def _totals(state: MasterState, fw: Framework) -> tuple[Resources, Resources, list[Offer]]:
    """What the framework's live tasks use, what its outstanding offers hold, and those offers."""
    used = EMPTY
    for task in fw.tasks.values():
        if not task.terminal:
            used = used + task.resources
    offers = [state.offers[offer_id] for offer_id in sorted(fw.offers)]
    offered = EMPTY
    for offer in offers:
        offered = offered + offer.resources
    return used, offered, offers


def _framework_json(state: MasterState, fw: Framework) -> dict:
    info = fw.info
    used, offered, held = _totals(state, fw)
    offers = [
        {"id": offer.id, "framework_id": fw.id, "slave_id": offer.agent_id, "resources": offer.resources.to_model()}
        for offer in held
    ]
    out = {
        "id": fw.id,
        "name": fw.name,
        "user": info.get("user", ""),
        "hostname": info.get("hostname", ""),
        "webui_url": info.get("webui_url", ""),
        "principal": info.get("principal", ""),
        "capabilities": sorted(c for c in fw.capabilities if c),
        "active": fw.connected,
        "connected": fw.connected,
        "recovered": False,
        "checkpoint": bool(info.get("checkpoint", False)),
        "failover_timeout": fw.failover_timeout if math.isfinite(fw.failover_timeout) else 1e300,
        "registered_time": fw.registered_time,
        "unregistered_time": fw.unregistered_time or 0.0,
        "resources": (used + offered).to_model(),
        "used_resources": used.to_model(),
        "offered_resources": offered.to_model(),
        "tasks": [_task_json(t) for t in fw.tasks.values()],
        "unreachable_tasks": [_task_json(t) for t in fw.unreachable.values()],
        "completed_tasks": [_task_json(t) for t in fw.completed_tasks],
        "offers": offers,
        "executors": [],
    }
    if fw.reregistered_time is not None:
        out["reregistered_time"] = fw.reregistered_time
    if fw.multi_role:
        out["roles"] = fw.roles
    else:
        out["role"] = fw.roles[0]
    return out


def frameworks(state: MasterState) -> dict:
    """``/master/frameworks`` (``Master::Http::frameworks``): the frameworks as in ``/master/state``."""
    return {
        "frameworks": [_framework_json(state, fw) for fw in state.frameworks.values()],
        "completed_frameworks": [_framework_json(state, fw) for fw in state.completed_frameworks.values()],
        "unregistered_frameworks": [],
    }


def _nanoseconds(t: float) -> dict:
    return {"nanoseconds": int(t * 1_000_000_000)}


def _operator_framework(state: MasterState, fw: Framework) -> dict:
    """``GetFrameworks.Framework`` (``model(const Framework&)`` in the master's http.cpp): the
    FrameworkInfo and the framework's state, offers and resource totals; no tasks."""
    used, offered, held = _totals(state, fw)
    offers = [state.offer_json(offer, fw) for offer in held]
    role = fw.roles[0] if fw.roles else "*"
    out: dict = {
        "framework_info": fw.info,
        "active": fw.connected,
        "connected": fw.connected,
        "recovered": False,
        "registered_time": _nanoseconds(fw.registered_time),
    }
    if fw.unregistered_time:
        out["unregistered_time"] = _nanoseconds(fw.unregistered_time)
    if fw.reregistered_time is not None:
        out["reregistered_time"] = _nanoseconds(fw.reregistered_time)
    # Repeated fields are left out when empty, as Mesos' protobuf-to-JSON writer does.
    if offers:
        out["offers"] = offers
    for name, resources in (("allocated_resources", used), ("offered_resources", offered)):
        listed = resources.to_protobuf_list(role)
        if listed:
            out[name] = listed
    return out


def get_frameworks(state: MasterState) -> dict:
    """``POST /api/v1 {"type": "GET_FRAMEWORKS"}``: the frameworks without their tasks, which make
    ``/master/frameworks`` megabytes on a busy cluster."""
    return {
        "type": "GET_FRAMEWORKS",
        "get_frameworks": {
            "frameworks": [_operator_framework(state, fw) for fw in state.frameworks.values()],
            "completed_frameworks": [_operator_framework(state, fw) for fw in state.completed_frameworks.values()],
        },
    }


def master_state(state: MasterState) -> dict:
    return {
        **version(state),
        "start_time": state.start_time,
        "elected_time": state.elected_time,
        "id": state.master_id,
        "pid": state.pid,
        "hostname": state.hostname,
        "leader": state.pid,
        "leader_info": state.master_info(),
        "activated_slaves": len(state.agents),
        "deactivated_slaves": 0,
        "unreachable_slaves": len(state.unreachable_agents),
        "slaves": [agent_json(state, agent) for agent in state.agents.values() if agent.unreachable_since is None],
        "recovered_slaves": [],
        "frameworks": [_framework_json(state, fw) for fw in state.frameworks.values()],
        "completed_frameworks": [_framework_json(state, fw) for fw in state.completed_frameworks.values()],
        "orphan_tasks": [],
        "unregistered_frameworks": [],
    }


def sim_state(state: MasterState, runtime: dict) -> dict:
    """Everything a test or a human wants to know about the simulator at a glance."""
    frameworks = []
    tasks = []
    for fw in state.frameworks.values():
        frameworks.append(
            {
                "id": fw.id,
                "name": fw.name,
                "connected": fw.connected,
                "stream_id": fw.stream_id,
                "partition_aware": fw.partition_aware,
                "roles": fw.roles,
                "suppressed_roles": sorted(fw.suppressed),
                "failover_timeout": fw.failover_timeout if math.isfinite(fw.failover_timeout) else "inf",
                "removal_at": fw.failover_deadline,
                "offers": len(fw.offers),
                "filters": sum(len(v) for v in fw.filters.values()),
                "tasks": len(fw.tasks),
                "unreachable_tasks": len(fw.unreachable),
                "calls": dict(sorted(fw.calls.items())),  # accepted calls by type
                "offers_sent": fw.offers_sent,
            }
        )
        for task in list(fw.tasks.values()) + list(fw.unreachable.values()):
            tasks.append(
                {
                    "id": task.id,
                    "name": task.name,
                    "framework_id": fw.id,
                    "agent_id": task.agent_id,
                    "state": task.state,
                    "status_update_state": task.status_update_state,
                    "pending_updates": [s["state"] for s in task.pending],
                    "outcome": task.outcome.to_json(),
                }
            )
    available = EMPTY
    total = EMPTY
    for agent in state.agents.values():
        total = total + Resources(agent.total.cpus, agent.total.mem, agent.total.disk, agent.total.gpus)
        a = agent.available()
        available = available + Resources(a.cpus, a.mem, a.disk, a.gpus)
    return {
        "master": {
            "id": state.master_id,
            "version": state.config.version,
            "start_time": state.start_time,
            "elected_time": state.elected_time,
            **runtime,
        },
        "agents": {
            "registered": sum(1 for agent in state.agents.values() if agent.unreachable_since is None),
            "partitioned": sorted(agent.id for agent in state.agents.values() if agent.partitioned),
            "unreachable": sorted(state.unreachable_agents),
            "total": total.to_model(),
            "available": available.to_model(),
        },
        "frameworks": frameworks,
        "completed_frameworks": list(state.completed_frameworks),
        "offers": len(state.offers),
        "task_counts": state.task_counts(),
        "tasks": tasks,
        "outcome_rules": [rule.to_json() for rule in state.outcomes.rules],
    }
