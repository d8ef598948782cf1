"""Publishing command messages to the command queue (kombu; amqp:// or memory://).

Every publish declares the queue (``command_queue``, the one shared declaration), sends the body as
persistent ``application/json``, and retries a bounded number of times. On amqp:// the channel is in
publisher-confirm mode, so ``publish`` returns only once RabbitMQ has taken the message.

kombu's memory:// transport keeps its queues in the process: a memory:// producer and handler
see each other only within one process (dev mode, tests).
"""

from __future__ import annotations

import logging
from typing import Any

from kombu import Connection, Producer

from scheduler.config import Settings
from scheduler.jobs.messages import QueueJobsMessage
from scheduler.messaging.queue import broker_type, command_queue
from scheduler.redact import mask_text, mask_url
from scheduler.tls import broker_ssl

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/json"
PERSISTENT = 2  # AMQP delivery_mode: written to disk by the broker


class PublishError(RuntimeError):
    """A message could not be published; the text names the broker (password masked) and the cause."""


def error_text(exc: BaseException, secrets: list[str] | tuple[str, ...] = ()) -> str:
    """One line describing a broker error, secrets masked."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if type(exc).__name__ not in text:
        text = f"{type(exc).__name__}: {text}"
    return mask_text(text, secrets)


def open_broker(
    url: str,
    *,
    connect_timeout_s: float = 5.0,
    heartbeat_s: float | None = None,
    confirm_publish: bool = False,
    ca_file: str | None = None,
) -> Connection:
    """A kombu connection (not yet connected) with the options this project uses per transport.

    ``amqps://`` verifies the broker's certificate (against ``ca_file``, else the system's CAs) and
    its host name.
    """
    options: dict[str, Any] = {}
    if broker_type(url) == "amqp":
        if confirm_publish:
            options["confirm_publish"] = True
    else:
        options["polling_interval"] = 0.05  # virtual transports poll; the default is a whole second
    return Connection(
        url,
        ssl=broker_ssl(url, ca_file),
        connect_timeout=connect_timeout_s,
        heartbeat=heartbeat_s or 0,
        transport_options=options,
    )


class CommandProducer:
    """Publishes command messages over one broker connection; use as a context manager or close()."""

    def __init__(
        self,
        settings: Settings,
        *,
        connect_timeout_s: float = 5.0,
        publish_timeout_s: float = 10.0,
        max_retries: int = 2,
    ) -> None:
        self.settings = settings
        self.queue = command_queue(settings.queue_name)
        self.connect_timeout_s = connect_timeout_s
        self.publish_timeout_s = publish_timeout_s
        self.max_retries = max_retries
        self._secrets = settings.secret_values()
        self._connection: Connection | None = None
        self._producer: Producer | None = None

    @property
    def retry_policy(self) -> dict[str, float]:
        return {"max_retries": self.max_retries, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 1.0}

    def _fail(self, what: str, exc: BaseException) -> PublishError:
        where = f"{mask_url(self.settings.broker_url)} (queue {self.settings.queue_name})"
        return PublishError(f"cannot {what} {where}: {error_text(exc, self._secrets)}")

    def _ensure_producer(self) -> Producer:
        if self._producer is not None:
            return self._producer
        connection = open_broker(
            self.settings.broker_url,
            connect_timeout_s=self.connect_timeout_s,
            confirm_publish=True,
            ca_file=self.settings.ca_file,
        )
        try:
            # Bounded: kombu's own default would retry a refused connection forever.
            connection.ensure_connection(
                max_retries=self.max_retries,
                interval_start=0.2,
                interval_step=0.5,
                interval_max=1.0,
                timeout=self.connect_timeout_s * (self.max_retries + 1) + 2,
            )
            producer = Producer(connection.channel(), exchange=self.queue.exchange, routing_key=self.queue.routing_key)
        except Exception as exc:  # kombu and amqp raise many kinds; all mean "cannot connect"
            connection.release()
            raise self._fail("connect to", exc) from None
        self._connection, self._producer = connection, producer
        return producer

    def publish(self, message: QueueJobsMessage) -> None:
        """Publish one message; returns once the broker has it (confirmed on amqp://)."""
        body = message.body()
        if len(body) > self.settings.message_max_bytes:  # the handlers would dead-letter it
            raise PublishError(
                f"message {message.id} has {len(body)} bytes, more than MESSAGE_MAX_BYTES "
                f"({self.settings.message_max_bytes}); send its jobs in smaller messages"
            )
        producer = self._ensure_producer()
        try:
            producer.publish(
                body,
                exchange=self.queue.exchange,
                routing_key=self.queue.routing_key,
                declare=[self.queue],
                delivery_mode=PERSISTENT,
                content_type=CONTENT_TYPE,
                content_encoding="utf-8",
                headers={"type": message.type, "id": message.id},
                message_id=message.id,
                timeout=self.publish_timeout_s,
                confirm_timeout=self.publish_timeout_s,
                retry=True,
                retry_policy=self.retry_policy,
            )
        except Exception as exc:
            self.close()  # the connection may be half-broken; the next publish starts afresh
            raise self._fail("publish to", exc) from None
        log.debug("published %s %s (%d jobs)", message.type, message.id, len(message.jobs))

    def close(self) -> None:
        connection, self._connection, self._producer = self._connection, None, None
        if connection is not None:
            try:
                connection.release()
            except Exception as exc:  # closing a broken connection may fail; nothing to do about it
                log.debug("closing the broker connection: %s", error_text(exc, self._secrets))

    def __enter__(self) -> CommandProducer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def publish_queue_jobs(settings: Settings, message: QueueJobsMessage, **options: Any) -> None:
    """Publish one message over a connection of its own; raises PublishError."""
    with CommandProducer(settings, **options) as producer:
        producer.publish(message)
