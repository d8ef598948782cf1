"""The one declaration of the command queue, shared by producers, handlers and the msg_queue probe.

Declaring a queue twice with different arguments is an error in RabbitMQ (PRECONDITION_FAILED), so
every part of the scheduler builds it here.
"""

from __future__ import annotations

from kombu import Exchange, Queue


def command_queue(name: str) -> Queue:
    """A durable queue bound to a direct exchange of the same name, routing key = name."""
    return Queue(name, Exchange(name, type="direct", durable=True), routing_key=name, durable=True)


def broker_type(url: str) -> str:
    """The scheme as Scale reports it: ``amqp`` (also for pyamqp), ``sqs``, ``memory``."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    return "amqp" if scheme in ("amqp", "pyamqp", "amqps") else scheme
