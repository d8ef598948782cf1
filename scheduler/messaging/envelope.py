"""A received message as raw bytes and headers: never decompressed, bounded, its deliveries counted.

kombu decompresses a message that carries a ``compression`` header while it *builds* the Message
object (before any handler code runs), so a few hundred bytes of bz2 can become gigabytes.
``keep_raw`` makes a channel build messages that skip that step (and kombu's str-to-bytes
re-encoding): the handler sees the bytes as they arrived and refuses compressed ones itself.

Deliveries: RabbitMQ quorum queues count them in ``x-delivery-count``; classic queues and kombu's
memory:// only flag a redelivery. For those, a redelivered message is published again with
``x-scale-deliveries`` one higher and the delivery acknowledged, so the count survives a handler
that dies on the message (the only way a message can come back without being refused or stored).
A handler does not count the redelivery of a message it requeued itself while the database was down;
messages it had prefetched but not yet seen when it paused do come back counted once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kombu import Producer
from kombu.message import Message

from scheduler.messaging.queue import command_queue

DEAD_SUFFIX = ".dead"
REASON_HEADER = "x-scale-reject-reason"
DELIVERIES_HEADER = "x-scale-deliveries"
BROKER_DELIVERIES_HEADER = "x-delivery-count"  # RabbitMQ quorum queues
MAX_REASON = 1000  # characters of the reason header
PERSISTENT = 2

_SKIP = object()  # a non-empty ``errors`` list makes kombu's Message.__init__ skip decompression
_RAW_CLASSES: dict[type, type] = {}


def keep_raw(channel: Any) -> None:
    """Make ``channel`` build messages whose ``body`` is the bytes as received."""
    base = channel.Message
    raw_class = _RAW_CLASSES.get(base)
    if raw_class is None:

        class RawMessage(base):  # type: ignore[misc, valid-type]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                self.errors = [_SKIP]
                super().__init__(*args, **kwargs)
                self.errors = []
                if isinstance(self.body, str):  # virtual transports hand over text
                    self.body = self.body.encode("utf-8", "surrogatepass")

        RawMessage.__name__ = f"Raw{base.__name__}"
        raw_class = _RAW_CLASSES[base] = RawMessage
    channel.Message = raw_class


def raw_body(message: Message) -> bytes:
    body = message.body
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8", "surrogatepass")
    return bytes(body)


def refusal(message: Message, max_bytes: int) -> str | None:
    """Why a message is refused before its body is read at all, or None."""
    compression = message.headers.get("compression") if isinstance(message.headers, dict) else None
    if compression:
        return f"compressed messages are refused (compression: {ascii(str(compression))[:60]})"
    size = len(message.body or b"")
    if size > max_bytes:
        return f"the body has {size} bytes, more than MESSAGE_MAX_BYTES ({max_bytes})"
    return None


@dataclass(frozen=True, slots=True)
class Deliveries:
    before: int  # deliveries before this one that ended without an acknowledgement
    counted_by_broker: bool


def deliveries(message: Message) -> Deliveries:
    headers = message.headers if isinstance(message.headers, dict) else {}
    broker = _count(headers.get(BROKER_DELIVERIES_HEADER))
    if broker is not None:
        return Deliveries(broker, counted_by_broker=True)
    return Deliveries(_count(headers.get(DELIVERIES_HEADER)) or 0, counted_by_broker=False)


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def redelivered(message: Message) -> bool:
    """Whether the broker delivered this message before (amqp: the redelivered flag; memory://: its mark)."""
    if message.delivery_info.get("redelivered"):
        return True
    raw = getattr(message, "_raw", None)  # kombu's virtual transports keep their payload here
    return bool(isinstance(raw, dict) and raw.get("redelivered"))


def dead_letter_queue_name(queue_name: str) -> str:
    return queue_name + DEAD_SUFFIX


class Republisher:
    """Publishes received messages, body and headers unchanged but for our own headers."""

    def __init__(self, channel: Any, queue_name: str, confirm_timeout_s: float = 10.0) -> None:
        self.queue = command_queue(queue_name)
        self.dead = command_queue(dead_letter_queue_name(queue_name))
        self.producer = Producer(channel)
        self.confirm_timeout_s = confirm_timeout_s
        self._declared = False

    def dead_letter(self, message: Message, reason: str) -> None:
        if not self._declared:
            self.dead(self.producer.channel).declare()
            self._declared = True
        self._publish(message, self.dead, {REASON_HEADER: _header_text(reason)})

    def count_delivery(self, message: Message, deliveries_before: int) -> None:
        """Put the message at the back of the queue again, with its delivery count in a header."""
        self._publish(message, self.queue, {DELIVERIES_HEADER: deliveries_before + 1})

    def _publish(self, message: Message, queue: Any, extra: dict[str, Any]) -> None:
        headers = dict(message.headers) if isinstance(message.headers, dict) else {}
        headers.update(extra)
        properties = message.properties if isinstance(message.properties, dict) else {}
        kept = {key: properties[key] for key in ("message_id", "correlation_id", "priority") if properties.get(key)}
        self.producer.publish(
            raw_body(message),
            exchange=queue.exchange,
            routing_key=queue.routing_key,
            content_type=message.content_type or "application/octet-stream",
            content_encoding=message.content_encoding or "binary",
            headers=headers,
            delivery_mode=PERSISTENT,
            timeout=self.confirm_timeout_s,
            confirm_timeout=self.confirm_timeout_s,
            **kept,
        )


def _header_text(reason: str) -> str:
    """The reason as printable ASCII (headers end up in consoles and logs), bounded."""
    text = reason.encode("ascii", "backslashreplace").decode("ascii")
    text = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
    return text[:MAX_REASON]
