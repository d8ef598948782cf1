"""Logging for the daemon: one line per record on stderr, secrets masked before anything is written.

Messages and their arguments often carry strings from outside (job type names, message ids, error
texts of remote services): the formatter escapes control characters, so such a string can neither
forge a log line (``\\n2026-01-01 ... INFO``) nor send escape sequences to an operator's terminal.
"""

from __future__ import annotations

import logging
import re
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

# C0 and C1 controls, DEL, line/paragraph separators, bidi controls, lone surrogates. Tab stays.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r"}
_INDENT = "  | "  # before each line of a traceback


def _escaped(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_control(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with every control character written as an escape (``\\n``, ``\\x1b``, ``\\u2028``)."""
    if keep_newlines:
        return "\n".join(_CONTROL.sub(lambda m: _escaped(m.group()), line) for line in text.split("\n"))
    return _CONTROL.sub(lambda m: _escaped(m.group()), text)


class OneLineFormatter(logging.Formatter):
    """Escapes control characters in the message; a traceback keeps its own line breaks, indented,
    so that no line of it (an exception's text included) can pass for a record of its own."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape_control(record.message)
        return super().formatMessage(record)

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text and not record.exc_text.startswith(_INDENT):
            escaped = escape_control(record.exc_text, keep_newlines=True)
            record.exc_text = "\n".join(_INDENT + line for line in escaped.split("\n"))
        return super().format(record)


def setup_logging(level: str = "INFO", secrets: Iterable[str] = ()) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineFormatter(FORMAT))
    # On the handler, not a logger: records from every library pass through it.
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    # It warns on every failed request; the elasticsearch probe already reports those once.
    logging.getLogger("elastic_transport.node_pool").setLevel(logging.ERROR)
