"""``dependencies.database``: a real round trip (``SELECT 1``) on the scheduler's own engine.

Scale only ran Django's ``ensure_connection()``, which opens a connection if none is open and runs
no query; this probe checks out a connection from the scheduler's own pool (with its pre-ping) and
runs a query, so a database that accepts connections but does not answer is caught too.

The call runs on the probe's own thread slot rather than on ``Database.run``'s pool: a probe that
hangs on a dead database then holds one thread of its own instead of, run after run, the threads the
scheduler's own writes need. The engine's client-level timeouts (``connect_timeout`` and
``statement_timeout`` on PostgreSQL, the busy timeout on SQLite) end a hung call eventually.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Engine

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

HEALTHY_MSG = "Database alive and well"
UNAVAILABLE_MSG = "Unable to connect to database"


def healthy() -> JSON:
    return section(True, {"msg": HEALTHY_MSG})


def unavailable(cause: str | None = None) -> JSON:
    """Scale's exact error for an unnamed cause; the cause in the text when it is known."""
    message = "Database unavailable." if cause is None else f"Database unavailable: {cause}."
    return section(False, {"msg": UNAVAILABLE_MSG}, [{"OPERATIONAL_ERROR": message}])


def select_one(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1")).scalar_one()


async def probe_database(
    engine: Engine,
    slot: ThreadSlot,
    timeout_s: float,
    *,
    secrets: Secrets = (),
    report: Report = report_debug,
) -> JSON:
    try:
        await slot.call(lambda: select_one(engine))
    except Exception as exc:
        report(exception_text(exc, secrets))
        return unavailable(known_cause(exc, timeout_s))
    return healthy()
