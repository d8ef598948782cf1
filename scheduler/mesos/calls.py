"""Builders of the v1 scheduler calls, as the JSON the master expects (Mesos 1.11 shapes).

Pure functions: no I/O, no state. Field names follow the protos, not the documentation's
examples where those are wrong (``revive.roles``, not ``role``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from scheduler.offers.offer import Resource
from scheduler.tasks.spec import TaskSpec
from scheduler.tasks.status import TaskStatus

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class FrameworkSpec:
    """What the scheduler tells the master about itself in SUBSCRIBE."""

    user: str
    name: str
    role: str
    hostname: str
    failover_timeout_s: float
    checkpoint: bool = True
    # PARTITION_AWARE: an unreachable agent's tasks are TASK_UNREACHABLE (kept), not TASK_LOST (rerun).
    capabilities: tuple[str, ...] = ("GPU_RESOURCES", "PARTITION_AWARE")
    principal: str | None = None
    webui_url: str | None = None


def _value(value: str) -> JSON:
    return {"value": value}


def framework_info(spec: FrameworkSpec, framework_id: str | None) -> JSON:
    info: JSON = {
        "user": spec.user,
        "name": spec.name,
        "roles": [spec.role],
        "hostname": spec.hostname,
        "checkpoint": spec.checkpoint,
        # Explicit: the proto default of 0 makes Mesos kill every task the moment we disconnect.
        "failover_timeout": float(spec.failover_timeout_s),
        # MULTI_ROLE goes with ``roles``; the role then comes back as allocation_info on offers.
        "capabilities": [{"type": c} for c in ("MULTI_ROLE", *spec.capabilities)],
    }
    if framework_id:
        info["id"] = _value(framework_id)
    if spec.principal:
        info["principal"] = spec.principal
    if spec.webui_url:
        info["webui_url"] = spec.webui_url
    return info


def subscribe(spec: FrameworkSpec, framework_id: str | None) -> JSON:
    call: JSON = {"type": "SUBSCRIBE", "subscribe": {"framework_info": framework_info(spec, framework_id)}}
    if framework_id:
        # Re-subscribing: both ids must be present and equal, or the master answers 400.
        call["framework_id"] = _value(framework_id)
    return call


def _call(kind: str, framework_id: str, payload: JSON | None = None) -> JSON:
    call: JSON = {"type": kind, "framework_id": _value(framework_id)}
    if payload is not None:
        call[kind.lower()] = payload
    return call


def _filters(refuse_seconds: float | None) -> JSON:
    return {} if refuse_seconds is None else {"filters": {"refuse_seconds": float(refuse_seconds)}}


def accept(
    framework_id: str, offer_ids: Sequence[str], task_infos: Sequence[JSON], refuse_seconds: float | None = None
) -> JSON:
    operations = [{"type": "LAUNCH", "launch": {"task_infos": list(task_infos)}}] if task_infos else []
    payload = {"offer_ids": [_value(o) for o in offer_ids], "operations": operations, **_filters(refuse_seconds)}
    return _call("ACCEPT", framework_id, payload)


def decline(framework_id: str, offer_ids: Sequence[str], refuse_seconds: float | None = None) -> JSON:
    return _call("DECLINE", framework_id, {"offer_ids": [_value(o) for o in offer_ids], **_filters(refuse_seconds)})


def kill(framework_id: str, task_id: str, agent_id: str | None = None) -> JSON:
    payload: JSON = {"task_id": _value(task_id)}
    if agent_id:
        payload["agent_id"] = _value(agent_id)
    return _call("KILL", framework_id, payload)


def acknowledge(framework_id: str, status: TaskStatus) -> JSON:
    return acknowledge_update(framework_id, status.agent_id, status.task_id, status.uuid)


def acknowledge_update(framework_id: str, agent_id: str, task_id: str, uuid: str) -> JSON:
    """The acknowledgement of the update ``uuid`` (base64, as the master sent it) of a task."""
    if not uuid or not agent_id:
        raise ValueError("only updates with a uuid and an agent id are acknowledged")
    payload = {"agent_id": _value(agent_id), "task_id": _value(task_id), "uuid": uuid}
    return _call("ACKNOWLEDGE", framework_id, payload)


def reconcile(framework_id: str, tasks: Iterable[tuple[str, str | None]] = ()) -> JSON:
    """Explicit reconciliation of (task id, agent id) pairs; no pairs means implicit."""
    entries = []
    for task_id, agent_id in tasks:
        entry: JSON = {"task_id": _value(task_id)}
        if agent_id:
            entry["agent_id"] = _value(agent_id)
        entries.append(entry)
    return _call("RECONCILE", framework_id, {"tasks": entries})


def revive(framework_id: str, roles: Sequence[str] = ()) -> JSON:
    return _call("REVIVE", framework_id, {"roles": list(roles)} if roles else None)


def suppress(framework_id: str, roles: Sequence[str] = ()) -> JSON:
    return _call("SUPPRESS", framework_id, {"roles": list(roles)} if roles else None)


def teardown(framework_id: str) -> JSON:
    return _call("TEARDOWN", framework_id)


# --- pieces of a LAUNCH ------------------------------------------------------------------------


def scalar_resource(name: str, amount: float, like: Resource | None = None) -> JSON:
    """A scalar resource of ``amount``, carrying the role/reservation fields of the offered one."""
    resource: JSON = {"name": name, "type": "SCALAR", "scalar": {"value": round(float(amount), 6)}}
    if like is not None:
        for key in ("role", "reservation", "reservations", "allocation_info", "disk", "revocable"):
            if key in like.raw:
                resource[key] = like.raw[key]
    return resource


def task_info(
    *,
    task_id: str,
    name: str,
    agent_id: str,
    resources: Sequence[JSON],
    command: str,
    image: str | None = None,
    environment: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
) -> JSON:
    info: JSON = {
        "name": name,
        "task_id": _value(task_id),
        "agent_id": _value(agent_id),
        "resources": list(resources),
        "command": {"value": command, "shell": True},
    }
    if environment:
        info["command"]["environment"] = {
            "variables": [
                {"name": k, **v} if isinstance(v, dict) else {"name": k, "value": v}
                for k, v in sorted(environment.items())
            ]
        }
    if image:
        # Labelled so that the node's cleanup can find the container once the task has ended.
        parameters = [
            {"key": "label", "value": "scale-scheduler=true"},
            {"key": "label", "value": f"scale-scheduler.task_id={task_id}"},
        ]
        info["container"] = {
            "type": "DOCKER",
            "docker": {"image": image, "network": "BRIDGE", "parameters": parameters},
        }
    if labels:
        info["labels"] = {"labels": [{"key": k, "value": v} for k, v in sorted(labels.items())]}
    return info


def task_info_of(spec: TaskSpec) -> JSON:
    """The TaskInfo of a task the core decided to launch."""
    return task_info(
        task_id=spec.task_id,
        name=spec.name,
        agent_id=spec.agent_id,
        resources=[scalar_resource(claim.name, claim.amount, claim.like) for claim in spec.resources],
        command=spec.command,
        image=spec.image,
        environment=spec.environment,
        labels=spec.labels,
    )
