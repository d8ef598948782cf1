"""What an operation on the master's state returns: events, stream closes, the next timer.

Every public operation of `MasterState` takes the time `t` and returns an
`Effects`; the server delivers its events, closes its streams and wakes its
timer loop. `op` collects the earliest timer an operation armed into it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field


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


@dataclass
class SubscribeResult:
    framework_id: str | None
    subscribed: dict | None  # the SUBSCRIBED event, first record of the stream
    refusal: str | None  # message of the ERROR event that ends a refused stream
    effects: Effects


def op(method: Callable) -> Callable:
    """Collect the earliest timer armed during a public operation into its Effects."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
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
