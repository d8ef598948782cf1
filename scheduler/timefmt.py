"""Times as the v6 API writes them: ISO-8601 in UTC with a ``Z``, as Scale's datetime_to_string does."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat().replace("+00:00", "Z")


def parse_iso(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
