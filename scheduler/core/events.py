"""The master's events as the core receives them: plain frozen values.

``scheduler.mesos.events`` parses the subscription stream into these (and ``Disconnected`` is made
by the driver); the core never sees wire JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scheduler.offers.offer import Offer
from scheduler.tasks.status import TaskStatus


@dataclass(frozen=True, slots=True)
class Subscribed:
    framework_id: str
    heartbeat_interval_s: float
    master_info: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True)
class OffersReceived:
    offers: tuple[Offer, ...]
    # Offers whose id could be read but whose body could not: to be declined, never used.
    unusable_offer_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OfferRescinded:
    offer_id: str


@dataclass(frozen=True, slots=True)
class TaskUpdate:
    status: TaskStatus


@dataclass(frozen=True, slots=True)
class Failure:
    """An executor ended (``executor_id`` set) or an agent was removed (no ``executor_id``)."""

    agent_id: str | None
    executor_id: str | None = None
    exit_status: int | None = None

    @property
    def agent_removed(self) -> bool:
        return self.executor_id is None and self.agent_id is not None


@dataclass(frozen=True, slots=True)
class MasterError:
    message: str

    @property
    def framework_removed(self) -> bool:
        return "has been removed" in self.message

    @property
    def failed_over(self) -> bool:
        return "failed over" in self.message


@dataclass(frozen=True, slots=True)
class Heartbeat:
    pass


@dataclass(frozen=True, slots=True)
class FrameworkMessage:
    agent_id: str
    executor_id: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Ignored:
    """A well-formed event this scheduler has no use for (inverse offers, operation updates)."""

    type: str


@dataclass(frozen=True, slots=True)
class Disconnected:
    """Made by the driver, not the master: the subscription ended and offers are void."""

    reason: str


Event = (
    Subscribed
    | OffersReceived
    | OfferRescinded
    | TaskUpdate
    | Failure
    | MasterError
    | Heartbeat
    | FrameworkMessage
    | Ignored
    | Disconnected
)
