"""The message handler: consumes ``queue_jobs`` messages from the command queue and stores their jobs.

For each message, in the order received (prefetch 10 by default):

- refused (compressed, larger than MESSAGE_MAX_BYTES, not JSON, fails validation, names an
  unregistered job type, values the database refuses, an id stored already with other jobs,
  delivered MESSAGE_MAX_DELIVERIES times without being handled): **rejected** - published
  unchanged (body and headers) to ``<queue>.dead`` with the reason in ``x-scale-reject-reason``,
  then acknowledged, with one log line; it never blocks the queue and nothing is lost silently;
- valid: its queue_message row and its jobs (QUEUED) are inserted in **one transaction**, and only
  after the commit is the message **acknowledged**. If its id is stored already with the same jobs
  (a redelivery after a crash between commit and ack), nothing is inserted and it is acknowledged;
- the database fails (down, timeout, locked, no schema yet): the message is **requeued**, the
  consumer is cancelled and its channel closed (so prefetched messages go back to the queue too),
  and the handler backs off, probing the database (its tables) with a growing delay; once it
  answers, consuming resumes. Nothing is lost.

The broker connection is watched with heartbeats on amqp://; if it drops, the handler reconnects
with a jittered delay capped at RECONNECT_MAX_S, so it is consuming again within seconds of the
broker's return. ``MessageHandler`` runs one consumer in a thread; the blocking
``scale-scheduler message-handler`` command is scheduler.messaging.command.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict, deque
from dataclasses import asdict, dataclass
from typing import Any

from kombu import Connection, Consumer
from kombu.exceptions import OperationalError
from kombu.message import Message
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from scheduler.backoff import Backoff
from scheduler.config import Settings
from scheduler.jobs.messages import QueueJobsMessage, decode_body, summarize, validate_message
from scheduler.messaging.envelope import (
    Republisher,
    dead_letter_queue_name,
    deliveries,
    keep_raw,
    raw_body,
    redelivered,
    refusal,
)
from scheduler.messaging.producer import error_text, open_broker
from scheduler.messaging.queue import command_queue
from scheduler.messaging.tally import TALLY
from scheduler.redact import mask_url
from scheduler.store.database import make_engine
from scheduler.store.ingest import (
    StoreResult,
    UnknownJobTypes,
    describe_database_error,
    queue_message_exists,
    refused_by_database,
    store_queue_jobs,
    stored_jobs_match,
)
from scheduler.store.tables import job_table, queue_message_table

log = logging.getLogger(__name__)

DEFAULT_PREFETCH = 10
MAX_HANDED_BACK = 10_000  # digests of requeued messages remembered
# A refused connection costs the broker nothing, and every second away is a second of jobs not
# taken in: the reconnect wait stays short (the database backoff keeps BACKOFF_MAX_S).
RECONNECT_MAX_S = 2.5


@dataclass
class HandlerCounters:
    stored_messages: int = 0
    stored_jobs: int = 0
    duplicate_messages: int = 0  # already stored: acknowledged, nothing inserted
    duplicate_jobs: int = 0
    rejected_messages: int = 0  # refused: dead-lettered with the reason, then acknowledged
    rejected_jobs: int = 0  # jobs in rejected messages that could be counted
    dead_lettered: int = 0  # published to <queue>.dead (every rejected message)
    delivery_counted: int = 0  # redelivered: requeued at the back with its delivery count
    storage_failures: int = 0  # database errors: the message was requeued
    broker_errors: int = 0  # lost or refused broker connections


class MessageHandler:
    """One consumer of the command queue, in a thread of its own."""

    def __init__(
        self,
        settings: Settings,
        *,
        engine: Engine | None = None,
        prefetch: int = DEFAULT_PREFETCH,
        drain_timeout_s: float = 0.5,
        heartbeat_s: float = 30.0,
        connect_timeout_s: float = 5.0,
        backoff_start_s: float = 1.0,
        backoff_max_s: float = 30.0,
        reconnect_max_s: float = RECONNECT_MAX_S,
        name: str = "message-handler",
    ) -> None:
        self.settings = settings
        self.queue = command_queue(settings.queue_name)
        self.prefetch = prefetch
        self.drain_timeout_s = drain_timeout_s
        self.heartbeat_s = heartbeat_s
        self.connect_timeout_s = connect_timeout_s
        self.backoff_start_s = backoff_start_s
        self.backoff_max_s = backoff_max_s
        self.reconnect_max_s = reconnect_max_s
        self.name = name
        self._owns_engine = engine is None
        self.engine = engine if engine is not None else settings_engine(settings)
        self._secrets = settings.secret_values()
        self._broker = mask_url(settings.broker_url)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._counters = HandlerCounters()
        self._database_down = False  # set by a storage failure, cleared by a successful probe
        self._database_delay = backoff_start_s  # reset by a successful store
        self._handled_in_session = 0
        self._inbox: deque[Message] = deque()
        self._handed_back: OrderedDict[bytes, None] = OrderedDict()  # digests of messages requeued here
        self._busy = False
        self._publisher: Republisher | None = None
        self.consuming = False  # a consumer is active on the broker
        self.last_error: str | None = None

    # --- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("a MessageHandler starts once")
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 10.0) -> bool:
        """Stop consuming and wait for the thread; True if it ended within the timeout."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        stopped = not self.is_alive
        if stopped and self._owns_engine:
            self.engine.dispose()
        return stopped

    @property
    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def counters(self) -> dict[str, int]:
        with self._lock:
            return asdict(self._counters)

    def _count(self, **increments: int) -> None:
        with self._lock:
            for name, value in increments.items():
                setattr(self._counters, name, getattr(self._counters, name) + value)

    # --- the broker connection -------------------------------------------------------------

    def _run(self) -> None:
        backoff = Backoff(self.backoff_start_s, min(self.reconnect_max_s, self.backoff_max_s))
        delay = self.backoff_start_s
        while not self._stop.is_set():
            connection: Connection | None = None
            started = time.monotonic()
            self._handled_in_session = 0
            try:
                connection = open_broker(
                    self.settings.broker_url,
                    connect_timeout_s=self.connect_timeout_s,
                    heartbeat_s=self.heartbeat_s,
                    confirm_publish=True,  # a dead letter is on the broker before its original is acked
                    ca_file=self.settings.ca_file,
                )
                # One attempt: kombu's connect() would sleep 2 s and retry, unseen by the backoff.
                connection.ensure_connection(max_retries=0)
                log.info("consuming %s from %s (prefetch %d)", self.queue.name, self._broker, self.prefetch)
                self._session(connection)
            except Exception as exc:  # connection and channel errors of every transport; bugs too
                if self._stop.is_set():
                    break
                self._count(broker_errors=1)
                self.last_error = f"broker {self._broker}: {error_text(exc, self._secrets)}"
                # A session that worked for a while starts the backoff again from the beginning.
                if self._handled_in_session or time.monotonic() - started > 10 * self.backoff_max_s:
                    backoff.reset()
                delay = backoff.next()
                known = connection is not None and isinstance(
                    exc, (*connection.connection_errors, *connection.channel_errors, OSError, OperationalError)
                )
                log.warning(
                    "%s; reconnecting in %.1f s",
                    self.last_error,
                    delay,
                    exc_info=not known,
                )
            finally:
                self.consuming = False
                if connection is not None:
                    self._release(connection)
            if self._stop.wait(delay):
                break
        log.info("message handler stopped: %s", self.counters)

    def _release(self, connection: Connection) -> None:
        try:
            connection.release()
        except Exception as exc:  # a dead connection may fail to close; it is dropped anyway
            log.debug("releasing the broker connection: %s", error_text(exc, self._secrets))

    def _session(self, connection: Connection) -> None:
        """Consume until stopped; pause consuming (channel closed) while the database is down."""
        consumer: Consumer | None = None
        next_probe = 0.0
        try:
            while not self._stop.is_set():
                if self._database_down:
                    if consumer is not None:
                        # Closing the channel hands every prefetched, unacknowledged message back.
                        self._close_consumer(consumer)
                        consumer = None
                        self.consuming = False
                        next_probe = self._next_database_try()
                        log.warning(
                            "stopped consuming %s until the database answers; next try in %.1f s",
                            self.queue.name,
                            next_probe - time.monotonic(),
                        )
                    if time.monotonic() >= next_probe:
                        if self._probe_database():
                            self._database_down = False
                            log.info("the database answers again; consuming %s", self.queue.name)
                        else:
                            next_probe = self._next_database_try()
                            log.warning(
                                "the database still fails: %s; next try in %.1f s",
                                self.last_error,
                                next_probe - time.monotonic(),
                            )
                            continue
                elif consumer is None:
                    channel = connection.channel()
                    keep_raw(channel)
                    self._publisher = Republisher(connection.channel(), self.queue.name)
                    consumer = Consumer(
                        channel,
                        queues=[self.queue],
                        on_message=self._on_message,
                        prefetch_count=self.prefetch,
                        tag_prefix=f"{self.name}-",
                    )
                    consumer.consume()
                    self.consuming = True
                try:
                    connection.drain_events(timeout=self.drain_timeout_s)
                except TimeoutError:  # socket.timeout: nothing arrived
                    pass
                connection.heartbeat_check()
        finally:
            self.consuming = False
            self._inbox.clear()  # unacknowledged: the broker hands them out again
            if consumer is not None:
                self._close_consumer(consumer)
            self._publisher = None

    def _next_database_try(self) -> float:
        """When to probe the database next; the delay doubles until a message is stored again."""
        delay = self._database_delay
        self._database_delay = min(delay * 2, self.backoff_max_s)
        return time.monotonic() + delay

    def _close_consumer(self, consumer: Consumer) -> None:
        try:
            consumer.cancel()
            consumer.channel.close()
        except Exception as exc:  # the connection may be gone; the broker requeues on its own then
            log.debug("closing the consumer: %s", error_text(exc, self._secrets))

    def _probe_database(self) -> bool:
        """Whether the database answers and has the tables a message is stored in."""
        try:
            with self.engine.connect() as connection:
                connection.execute(select(queue_message_table.c.id).limit(0))
                connection.execute(select(job_table.c.id).limit(0))
            return True
        except Exception as exc:
            self.last_error = describe_database_error(exc, self._secrets)
            return False

    # --- one message -----------------------------------------------------------------------

    def _on_message(self, message: Message) -> None:
        # Waiting for a publisher confirm drains the connection, which may deliver the next message
        # here while one is in hand: it waits its turn, in order.
        self._inbox.append(message)
        if self._busy:
            return
        self._busy = True
        try:
            while self._inbox:
                self._handle(self._inbox.popleft())
        finally:
            self._busy = False

    def _handle(self, message: Message) -> None:
        self._handled_in_session += 1
        if self._database_down:
            # Prefetched before the pause: hand it back untried.
            self._hand_back(message)
            return
        reason = refusal(message, self.settings.message_max_bytes)
        if reason:
            self._reject(message, reason, None)
            return
        if not self._deliveries_allowed(message):
            return
        body = raw_body(message)
        parsed = validate_message(body)
        if not isinstance(parsed, QueueJobsMessage):
            self._reject(message, summarize(parsed), _peek_id(body), _peek_count(body))
            return
        try:
            with self.engine.begin() as connection:
                result = store_queue_jobs(connection, parsed)
        except UnknownJobTypes as exc:
            self._reject(message, str(exc), parsed.id, len(parsed.jobs))
            return
        except IntegrityError as exc:
            # Most likely another handler stored the same id at the same moment.
            try:
                twin = self._stored_twin(parsed)
            except Exception:
                self._storage_failed(message, parsed, exc)
                return
            if twin is not None:
                self._duplicate(message, parsed, twin)
            else:
                self._refused_by_database(message, parsed, exc)
            return
        except Exception as exc:
            if refused_by_database(exc):  # retrying cannot help: the values themselves are refused
                self._refused_by_database(message, parsed, exc)
            else:  # database down, timeout, locked, no schema; or a bug: keep the message
                self._storage_failed(message, parsed, exc)
            return
        if result.duplicate:
            self._duplicate(message, parsed, result)
            return
        # Committed: counted as stored even if the ack is lost (the redelivery is then a duplicate).
        self._count(stored_messages=1, stored_jobs=result.num_jobs)
        self._database_delay = self.backoff_start_s
        log.debug("stored message %s: %d jobs", parsed.id, result.num_jobs)
        message.ack()

    def _deliveries_allowed(self, message: Message) -> bool:
        """False if the message was dealt with here: dead-lettered, or requeued with its count."""
        count = deliveries(message)
        if count.counted_by_broker:
            before = count.before
        elif redelivered(message):
            digest = hashlib.sha256(raw_body(message)).digest()
            if digest in self._handed_back:  # this handler requeued it (the database was down)
                del self._handed_back[digest]
                return True
            before = count.before + 1
        else:
            return True
        if before >= self.settings.message_max_deliveries:
            self._reject(
                message,
                f"delivered {before + 1} times without being handled (MESSAGE_MAX_DELIVERIES "
                f"{self.settings.message_max_deliveries})",
                None,
            )
            return False
        if not count.counted_by_broker:
            self._republisher().count_delivery(message, count.before)
            message.ack()
            self._count(delivery_counted=1)
            return False
        return True

    def _stored_twin(self, parsed: QueueJobsMessage) -> StoreResult | None:
        """The stored message of the same id (a duplicate or a conflict), or None; raises if the database fails."""
        with self.engine.connect() as connection:
            if not queue_message_exists(connection, parsed.id):
                return None
            same = stored_jobs_match(connection, parsed)
        return StoreResult(parsed.id, len(parsed.jobs), duplicate=True, conflict=not same)

    def _duplicate(self, message: Message, parsed: QueueJobsMessage, result: StoreResult) -> None:
        if result.conflict:
            self._reject(
                message,
                f"message id {parsed.id} is stored already with other jobs (an id reused for new work?)",
                parsed.id,
                len(parsed.jobs),
            )
            return
        message.ack()
        self._count(duplicate_messages=1, duplicate_jobs=len(parsed.jobs))
        log.info("message %s was stored already (redelivered); acknowledged without storing again", parsed.id)

    def _refused_by_database(self, message: Message, parsed: QueueJobsMessage, exc: BaseException) -> None:
        cause = describe_database_error(exc, self._secrets)
        self._reject(message, f"the database refuses it: {cause}", parsed.id, len(parsed.jobs))

    def _republisher(self) -> Republisher:
        if self._publisher is None:
            raise RuntimeError("no broker session")
        return self._publisher

    def _reject(self, message: Message, reason: str, message_id: str | None, num_jobs: int = 0) -> None:
        """Dead-letter the message unchanged, with the reason, then take it off the queue."""
        # If publishing fails the error ends the session: the message stays, unacknowledged.
        self._republisher().dead_letter(message, reason)
        message.ack()
        self._count(rejected_messages=1, rejected_jobs=num_jobs, dead_lettered=1)
        TALLY.add(rejected=1, dead_lettered=1)
        what = f"message {message_id}" if message_id else f"a message of {len(message.body or b'')} bytes"
        log.warning(
            "rejected %s from %s (kept in %s): %s",
            what,
            self.queue.name,
            dead_letter_queue_name(self.queue.name),
            reason,
        )

    def _hand_back(self, message: Message) -> None:
        """Requeue, remembering the message: its redelivery to this handler is not a delivery to count."""
        self._handed_back[hashlib.sha256(raw_body(message)).digest()] = None
        while len(self._handed_back) > MAX_HANDED_BACK:
            self._handed_back.popitem(last=False)
        message.requeue()

    def _storage_failed(self, message: Message, parsed: QueueJobsMessage, exc: BaseException) -> None:
        self._hand_back(message)
        self._database_down = True
        self._count(storage_failures=1)
        self.last_error = describe_database_error(exc, self._secrets)
        log.warning(
            "could not store message %s (%d jobs), requeued it: %s",
            parsed.id,
            len(parsed.jobs),
            self.last_error,
            exc_info=not _is_database_error(exc),
        )


def settings_engine(settings: Settings) -> Engine:
    return make_engine(
        settings.database_url,
        settings.database_timeout_s,
        sslmode=settings.database_sslmode,
        ca_file=settings.ca_file,
    )


def _is_database_error(exc: BaseException) -> bool:
    from sqlalchemy.exc import SQLAlchemyError

    return isinstance(exc, (SQLAlchemyError, OSError, TimeoutError))


def _peek(body: Any) -> Any:
    try:
        return decode_body(body)
    except Exception:
        return None


def _peek_id(body: Any) -> str | None:
    data = _peek(body)
    value = data.get("id") if isinstance(data, dict) else None
    return value[:64] if isinstance(value, str) and value.isprintable() and value.strip() else None


def _peek_count(body: Any) -> int:
    data = _peek(body)
    jobs = data.get("jobs") if isinstance(data, dict) else None
    return len(jobs) if isinstance(jobs, list) else 0
