"""``scale-scheduler message-handler``: migrate the schema (retrying while the database is away), then
run one MessageHandler until SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from sqlalchemy.engine import Engine

from scheduler.config import Settings
from scheduler.messaging.handler import MessageHandler, settings_engine
from scheduler.redact import mask_url
from scheduler.store.database import migrate
from scheduler.store.ingest import describe_database_error

log = logging.getLogger(__name__)


def migrate_with_retries(
    engine: Engine,
    stop: threading.Event,
    *,
    display_url: str,
    secrets: list[str] | tuple[str, ...] = (),
    backoff_start_s: float = 1.0,
    backoff_max_s: float = 30.0,
) -> bool:
    """Bring the schema up to date, retrying while the database is unreachable; False if stopped first."""
    delay = backoff_start_s
    while not stop.is_set():
        try:
            migrate(engine)
            return True
        except Exception as exc:
            log.warning(
                "database %s: cannot migrate (%s); retrying in %.0f s",
                display_url,
                describe_database_error(exc, secrets),
                delay,
            )
        if stop.wait(delay):
            break
        delay = min(delay * 2, backoff_max_s)
    return False


def run_message_handler(settings: Settings, stop: threading.Event | None = None, **options: Any) -> int:
    """``scale-scheduler message-handler``: migrate, then consume until SIGTERM/SIGINT or ``stop``.

    Returns 0 on a requested stop, 1 if the consumer thread died. ``options`` go to MessageHandler.
    """
    stop = stop or threading.Event()
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, lambda *_: stop.set())
    engine = settings_engine(settings)
    handler: MessageHandler | None = None
    try:
        log.info(
            "message handler: database %s, broker %s, queue %s",
            mask_url(settings.database_url),
            mask_url(settings.broker_url),
            settings.queue_name,
        )
        if not migrate_with_retries(
            engine, stop, display_url=mask_url(settings.database_url), secrets=settings.secret_values()
        ):
            return 0
        handler = MessageHandler(settings, engine=engine, **options)
        handler.start()
        while not stop.wait(0.5):
            if not handler.is_alive:
                log.error("the message handler thread ended unexpectedly")
                return 1
        return 0
    finally:
        if handler is not None and not handler.stop(timeout=15):
            log.warning("the message handler did not stop within 15 s")
        engine.dispose()
        for signum, handler_before in previous.items():
            signal.signal(signum, handler_before)
