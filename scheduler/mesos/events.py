"""Typed events from the master's subscription stream, and the parser that builds them.

The core never sees raw dicts: ``parse_event`` turns one decoded record into one of the frozen
dataclasses of ``scheduler.core.events`` or raises ``MalformedEvent`` saying why; the driver logs and skips those.
Shapes follow Mesos 1.11's v1 JSON (``{"type": "OFFERS", "offers": {"offers": [...]}}`` and so on).
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
from typing import Any

from scheduler.core.events import (
    Disconnected,
    Event,
    Failure,
    FrameworkMessage,
    Heartbeat,
    Ignored,
    MasterError,
    OfferRescinded,
    OffersReceived,
    Subscribed,
    TaskUpdate,
)
from scheduler.offers.offer import Offer, Resource
from scheduler.tasks.status import TaskState, TaskStatus

log = logging.getLogger(__name__)


class MalformedEvent(ValueError):
    """A record that is JSON but not a usable event; the message says what is wrong."""


# The values parsed into live in the pure packages; they are re-exported here for the driver.
__all__ = [
    "Disconnected",
    "Event",
    "Failure",
    "FrameworkMessage",
    "Heartbeat",
    "Ignored",
    "MalformedEvent",
    "MasterError",
    "Offer",
    "OfferRescinded",
    "OffersReceived",
    "Resource",
    "Subscribed",
    "TaskState",
    "TaskStatus",
    "TaskUpdate",
    "parse_event",
    "parse_offer",
    "parse_resource",
    "parse_task_status",
]


# --- parsing ---------------------------------------------------------------------------------


def _obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedEvent(f"{where} is not an object")
    return value


def _id(container: dict[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
    value = container.get(key)
    if value is None and not required:
        return None
    value = _obj(value, f"{where}.{key}").get("value")
    if not isinstance(value, str) or not value:
        raise MalformedEvent(f"{where}.{key}.value is missing or not a string")
    return value


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise MalformedEvent(f"{where} is not a number")
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise MalformedEvent(f"{where} is not a number") from None
    if not math.isfinite(number):
        raise MalformedEvent(f"{where} is not a finite number")
    return number


def _resource_role(data: dict[str, Any], where: str) -> str:
    """The role a resource is reserved for ("*" when unreserved), pre- or post-refinement format."""
    reservations = data.get("reservations")
    if isinstance(reservations, list) and reservations:
        role = reservations[-1].get("role") if isinstance(reservations[-1], dict) else None
    else:
        role = data.get("role", "*")
    if not isinstance(role, str):
        raise MalformedEvent(f"{where}.role is not a string")
    return role


def parse_resource(data: Any, where: str = "resource") -> Resource:
    data = _obj(data, where)
    name, kind = data.get("name"), data.get("type")
    if not isinstance(name, str) or not name:
        raise MalformedEvent(f"{where}.name is missing")
    if kind not in ("SCALAR", "RANGES", "SET", "TEXT"):
        raise MalformedEvent(f"{where}.type {kind!r} is not a resource type")
    role = _resource_role(data, where)
    if kind == "SCALAR":
        value = _number(_obj(data.get("scalar"), f"{where}.scalar").get("value"), f"{where}.scalar.value")
        if value < 0:
            raise MalformedEvent(f"{where}.scalar.value is negative")
        return Resource(name, kind, scalar=value, role=role, raw=data)
    if kind == "RANGES":
        ranges = []
        for item in _obj(data.get("ranges", {}), f"{where}.ranges").get("range", []) or []:
            item = _obj(item, f"{where}.ranges.range")
            begin, end = int(_number(item.get("begin"), "begin")), int(_number(item.get("end"), "end"))
            if begin > end:
                raise MalformedEvent(f"{where} has a range that ends before it begins")
            ranges.append((begin, end))
        return Resource(name, kind, ranges=tuple(ranges), role=role, raw=data)
    if kind == "SET":
        items = _obj(data.get("set", {}), f"{where}.set").get("item", []) or []
        if not all(isinstance(i, str) for i in items):
            raise MalformedEvent(f"{where}.set.item holds a non-string")
        return Resource(name, kind, items=tuple(items), role=role, raw=data)
    return Resource(name, kind, role=role, raw=data)


def parse_offer(data: Any) -> Offer:
    data = _obj(data, "offer")
    offer_id = _id(data, "id", "offer")
    agent_id = _id(data, "agent_id", f"offer {offer_id}")
    hostname = data.get("hostname")
    if not isinstance(hostname, str) or not hostname:
        raise MalformedEvent(f"offer {offer_id} has no hostname")
    resources = data.get("resources", [])
    if not isinstance(resources, list):
        raise MalformedEvent(f"offer {offer_id}.resources is not a list")
    allocation = data.get("allocation_info")
    role = allocation.get("role") if isinstance(allocation, dict) else None
    attributes = {}
    for attribute in data.get("attributes", []) or []:
        if isinstance(attribute, dict) and isinstance(attribute.get("name"), str):
            kind = str(attribute.get("type", "")).lower()
            value = attribute.get(kind, {})
            attributes[attribute["name"]] = value.get("value", value) if isinstance(value, dict) else value
    return Offer(
        id=offer_id,
        agent_id=agent_id,
        hostname=hostname,
        resources=tuple(parse_resource(r, f"offer {offer_id} resource") for r in resources),
        framework_id=_id(data, "framework_id", f"offer {offer_id}", required=False) or "",
        allocation_role=role if isinstance(role, str) else None,
        attributes=attributes,
    )


def parse_task_status(data: Any) -> TaskStatus:
    data = _obj(data, "update.status")
    task_id = _id(data, "task_id", "update.status")
    try:
        state = TaskState(data.get("state"))
    except ValueError:
        raise MalformedEvent(f"task {task_id} has unknown state {data.get('state')!r}") from None
    uuid = data.get("uuid")
    if uuid is not None:
        if not isinstance(uuid, str):
            raise MalformedEvent(f"task {task_id} update uuid is not base64 text")
        try:
            base64.b64decode(uuid, validate=True)
        except (binascii.Error, ValueError):
            raise MalformedEvent(f"task {task_id} update uuid is not valid base64") from None
    timestamp = data.get("timestamp")
    message, reason, source = data.get("message"), data.get("reason"), data.get("source")
    healthy = data.get("healthy")
    return TaskStatus(
        task_id=task_id,
        state=state,
        agent_id=_id(data, "agent_id", "update.status", required=False),
        executor_id=_id(data, "executor_id", "update.status", required=False),
        source=source if isinstance(source, str) else None,
        reason=reason if isinstance(reason, str) else None,
        message=message if isinstance(message, str) else None,
        uuid=uuid or None,
        timestamp=_number(timestamp, "update.status.timestamp") if timestamp is not None else None,
        healthy=healthy if isinstance(healthy, bool) else None,
    )


def _readable_offer_id(data: Any) -> str | None:
    try:
        return _id(_obj(data, "offer"), "id", "offer")
    except MalformedEvent:
        return None


def _parse_offers(payload: dict[str, Any]) -> OffersReceived:
    offers = payload.get("offers", [])
    if not isinstance(offers, list):
        raise MalformedEvent("offers.offers is not a list")
    good, unusable = [], []
    for data in offers:
        try:
            good.append(parse_offer(data))
        except MalformedEvent as problem:
            # An offer we cannot read must still be given back, so keep its id when it has one;
            # one without an id can be neither used nor declined (the master rescinds it in time).
            offer_id = _readable_offer_id(data)
            if offer_id is None:
                log.warning("Skipping an offer without a readable id: %s", problem)
                continue
            unusable.append(offer_id)
    return OffersReceived(tuple(good), tuple(unusable))


def split_offers(data: Any, size: int) -> list[dict[str, Any]] | None:
    """An OFFERS event of more than ``size`` offers as OFFERS events of at most ``size`` each, in
    order; None for any other event (each offer is read and checked later, by ``parse_event``)."""
    if not isinstance(data, dict) or data.get("type") != "OFFERS":
        return None
    payload = data.get("offers")
    offers = payload.get("offers") if isinstance(payload, dict) else None
    if not isinstance(offers, list) or len(offers) <= size:
        return None
    return [{"type": "OFFERS", "offers": {"offers": offers[i : i + size]}} for i in range(0, len(offers), size)]


_IGNORED_TYPES = frozenset({"INVERSE_OFFERS", "RESCIND_INVERSE_OFFER", "UPDATE_OPERATION_STATUS"})


def parse_event(data: Any) -> Event:
    """One decoded stream record as a typed event, or MalformedEvent."""
    data = _obj(data, "event")
    kind = data.get("type")
    if not isinstance(kind, str):
        raise MalformedEvent("event has no type")
    key = kind.lower()
    if kind == "HEARTBEAT":
        return Heartbeat()
    if kind in _IGNORED_TYPES:
        return Ignored(kind)
    payload = _obj(data.get(key), key)
    if kind == "SUBSCRIBED":
        interval = payload.get("heartbeat_interval_seconds", 15.0)
        interval = _number(interval, "subscribed.heartbeat_interval_seconds")
        if interval <= 0:
            raise MalformedEvent("subscribed.heartbeat_interval_seconds is not positive")
        master_info = payload.get("master_info") if isinstance(payload.get("master_info"), dict) else {}
        return Subscribed(_id(payload, "framework_id", "subscribed"), interval, master_info)
    if kind == "OFFERS":
        return _parse_offers(payload)
    if kind == "RESCIND":
        return OfferRescinded(_id(payload, "offer_id", "rescind"))
    if kind == "UPDATE":
        return TaskUpdate(parse_task_status(payload.get("status")))
    if kind == "FAILURE":
        status = payload.get("status")
        return Failure(
            agent_id=_id(payload, "agent_id", "failure", required=False),
            executor_id=_id(payload, "executor_id", "failure", required=False),
            exit_status=int(_number(status, "failure.status")) if status is not None else None,
        )
    if kind == "ERROR":
        message = payload.get("message")
        if not isinstance(message, str):
            raise MalformedEvent("error.message is not a string")
        return MasterError(message)
    if kind == "MESSAGE":
        try:
            data_bytes = base64.b64decode(payload.get("data", ""), validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise MalformedEvent("message.data is not valid base64") from None
        return FrameworkMessage(_id(payload, "agent_id", "message"), _id(payload, "executor_id", "message"), data_bytes)
    raise MalformedEvent(f"unknown event type {kind!r}")
