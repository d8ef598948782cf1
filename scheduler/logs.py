"""Logging for the daemon: one line per record on stderr, secrets masked before anything is written."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

from scheduler.redact import RedactingFilter

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
QUIET_LOGGERS = (
    "aiohttp.access",
    "alembic.runtime.plugins",
    "sqlalchemy",
    "kombu",
    "amqp",
    "elastic_transport",
    "urllib3",
    "hvac",
)


def setup_logging(level: str = "INFO", secrets: Iterable[str] = ()) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    # On the handler, not a logger: records from every library pass through it.
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    # It warns on every failed request; the elasticsearch probe already reports those once.
    logging.getLogger("elastic_transport.node_pool").setLevel(logging.ERROR)
