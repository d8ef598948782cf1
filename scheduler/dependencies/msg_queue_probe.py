"""``dependencies.msg_queue``: the command queue's real depth, read through kombu.

The queue is inspected with a *passive* declare of ``command_queue(name)``: it reports the message
count without creating anything and, unlike a full declaration, can never clash with the
arguments another client declared the queue with. A queue nobody has declared yet holds no
messages, so it reads as depth 0; a depth that could not be read (broker down, URL invalid) is
``null``, never 0. The same call works for ``amqp://`` (RabbitMQ) and kombu's
``memory://`` transport (whose queues live in the process).

Rejected messages wait in ``<queue>.dead`` (see scheduler.messaging.envelope); while any do, the
section carries a ``DEAD_LETTERS`` warning (OK stays true: intake goes on). The depth is also what
``/metrics`` reports, since handler tasks reject messages in processes of their own.

Error keys are Scale's: ``RABBITMQ_ERROR``, ``SQS_ERROR``, ``INVALID_BROKER_URL``; a failure of the
in-memory transport (not a case Scale has) is ``BROKER_ERROR``. When the cause can be named, it
replaces Scale's "Check Logs for details", e.g. ``Error connecting to RabbitMQ: timed out after 5 s``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from amqp import exceptions as amqp_exceptions
from kombu import Connection

from scheduler.dependencies.common import (
    JSON,
    Report,
    Secrets,
    ThreadSlot,
    exception_text,
    known_cause,
    report_debug,
    section,
)
from scheduler.messaging.envelope import dead_letter_queue_name
from scheduler.messaging.queue import broker_type, command_queue
from scheduler.messaging.tally import TALLY
from scheduler.tls import broker_ssl

HEALTHY_MSG = "Message Queue is healthy"
LARGE_MSG = "Message queue is large. Scale may be unresponsive."
SIZE_ERROR_MSG = "Unable to get message queue size."
INVALID_URL = "Error parsing broker url"
SUPPORTED = ("amqp", "sqs", "memory")
ERRORS = {
    "amqp": ("RABBITMQ_ERROR", "Error connecting to RabbitMQ"),
    "sqs": ("SQS_ERROR", "Error connecting to SQS"),
    "memory": ("BROKER_ERROR", "Error reading the in-memory message queue"),
}


def parse_broker(url: str) -> tuple[str, str] | None:
    """``(type, region_name)`` of a broker URL, or None when it cannot be parsed.

    ``region_name`` is Scale's: the address part of an ``sqs://`` URL (``sqs://aws.com`` gives
    ``aws.com``), empty for the others.
    """
    if "://" not in url:
        return None
    kind = broker_type(url)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return None
    if not kind or not kind.isidentifier():
        return None
    region = (parts.hostname or "") if kind == "sqs" else ""
    return kind, region


def detail(queue_name: str, handlers: int, kind: str = "", region: str = "", depth: int | None = None) -> JSON:
    return {
        "msg": HEALTHY_MSG,
        "queue_name": queue_name,
        "num_message_handlers": handlers,
        "queue_depth": depth,
        "region_name": region,
        "type": kind,
    }


def invalid_url(queue_name: str, handlers: int) -> JSON:
    return section(
        False,
        {**detail(queue_name, handlers), "msg": INVALID_URL},
        [{"INVALID_BROKER_URL": INVALID_URL}],
    )


def unsupported(queue_name: str, handlers: int, kind: str, region: str = "") -> JSON:
    return section(
        False, {**detail(queue_name, handlers, kind, region), "msg": f"Broker is an unsupported type: {kind}"}
    )


def with_depth(
    queue_name: str, handlers: int, kind: str, region: str, depth: int, warn_above: int, dead_letters: int = 0
) -> JSON:
    """The healthy section; LARGE_QUEUE when a positive threshold is exceeded, DEAD_LETTERS while
    rejected messages wait (OK stays true)."""
    info = detail(queue_name, handlers, kind, region, depth)
    warnings = []
    if warn_above > 0 and depth > warn_above:
        warnings.append({"LARGE_QUEUE": "Message queue is very large"})
        info["msg"] = LARGE_MSG
    if dead_letters > 0:
        warnings.append(
            {
                "DEAD_LETTERS": f"{dead_letters} rejected message{'s' if dead_letters != 1 else ''} "
                f"kept in {dead_letter_queue_name(queue_name)} (reasons in their x-scale-reject-reason header)"
            }
        )
    return section(True, info, [], warnings)


def broker_error(queue_name: str, handlers: int, kind: str, region: str, cause: str | None = None) -> JSON:
    key, prefix = ERRORS.get(kind, ("BROKER_ERROR", f"Error connecting to the {kind or 'message'} broker"))
    message = f"{prefix}: {cause or 'Check Logs for details'}"
    return section(False, {**detail(queue_name, handlers, kind, region), "msg": SIZE_ERROR_MSG}, [{key: message}])


def broker_cause(exc: BaseException, timeout_s: float) -> str | None:
    if isinstance(exc, amqp_exceptions.AccessRefused):
        return "access refused (check the broker user and password)"
    if isinstance(exc, amqp_exceptions.NotAllowed):
        return "access to the virtual host not allowed"
    return known_cause(exc, timeout_s)


def _missing_queue(exc: BaseException) -> bool:
    code = getattr(exc, "code", None) or getattr(exc, "reply_code", None)
    return str(code) == "404" or "NOT_FOUND" in str(exc)


def read_queue_depth(url: str, queue_name: str, timeout_s: float, ca_file: str | None = None) -> int:
    """Blocking: the message count of the command queue, on a fresh connection, every call bounded."""
    return read_queue_depths(url, queue_name, timeout_s, ca_file)[0]


def read_queue_depths(url: str, queue_name: str, timeout_s: float, ca_file: str | None = None) -> tuple[int, int]:
    """Blocking: the message counts of the command queue and of its dead-letter queue."""
    kind = broker_type(url)
    options = {"read_timeout": timeout_s, "write_timeout": timeout_s} if kind == "amqp" else {}
    with Connection(
        url, ssl=broker_ssl(url, ca_file), connect_timeout=timeout_s, transport_options=options
    ) as connection:
        connection.ensure_connection(max_retries=0)  # one attempt: the probe runs again soon anyway
        return (
            _passive_depth(connection, queue_name),
            _passive_depth(connection, dead_letter_queue_name(queue_name)),
        )


def _passive_depth(connection: Connection, queue_name: str) -> int:
    channel = connection.channel()
    try:
        declared = command_queue(queue_name).bind(channel).queue_declare(passive=True)
        return int(declared.message_count)
    except amqp_exceptions.ChannelError as exc:
        if _missing_queue(exc):
            return 0
        raise
    finally:
        try:
            channel.close()
        except Exception:  # the channel is already closed after a 404; nothing to release
            pass


async def probe_msg_queue(
    url: str,
    queue_name: str,
    handlers: int,
    warn_above: int,
    slot: ThreadSlot,
    timeout_s: float,
    *,
    secrets: Secrets = (),
    report: Report = report_debug,
    ca_file: str | None = None,
) -> JSON:
    parsed = parse_broker(url)
    if parsed is None:
        return invalid_url(queue_name, handlers)
    kind, region = parsed
    if kind not in SUPPORTED:
        return unsupported(queue_name, handlers, kind, region)
    try:
        depth, dead = await slot.call(lambda: read_queue_depths(url, queue_name, timeout_s, ca_file))
    except Exception as exc:
        report(exception_text(exc, secrets))
        return broker_error(queue_name, handlers, kind, region, broker_cause(exc, timeout_s))
    TALLY.dead_letter_depth = dead
    return with_depth(queue_name, handlers, kind, region, depth, warn_above, dead)
