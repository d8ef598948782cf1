"""``dependencies.database``: a real round trip (``SELECT 1``) on the scheduler's own engine.

Scale only ran Django's ``ensure_connection()``, which opens a connection if none is open and runs
no query; this probe checks out a connection from the scheduler's own pool (with its pre-ping) and
runs a query, so a database that accepts connections but does not answer is caught too.

The call runs on the probe's own thread slot rather than on ``Database.run``'s pool: a probe that
hangs on a dead database then holds one thread of its own instead of, run after run, the threads the
scheduler's own writes need. The engine's client-level timeouts (``connect_timeout`` and
``statement_timeout`` on PostgreSQL, the busy timeout on SQLite) end a hung call eventually.

The probe runs every PROBE_INTERVAL; the record writer finds a dead database sooner, on its first
failed write. ``WriteHealth`` puts that into the section the status shows: not OK from the first
failed write until a write succeeds or a later probe answers.
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
WRITE_FAILED_MSG = "Unable to write to database"


def healthy() -> JSON:
    return section(True, {"msg": HEALTHY_MSG})


def unavailable(cause: str | None = None) -> JSON:
    """Scale's exact error for an unnamed cause; the cause in the text when it is known."""
    message = "Database unavailable." if cause is None else f"Database unavailable: {cause}."
    return section(False, {"msg": UNAVAILABLE_MSG}, [{"OPERATIONAL_ERROR": message}])


def write_failed(cause: str) -> JSON:
    """Scale's error key (a write that fails is an operational error there too), with the cause."""
    return section(False, {"msg": WRITE_FAILED_MSG}, [{"OPERATIONAL_ERROR": f"Database writes failing: {cause}."}])


class WriteHealth:
    """The record writer's last word on the database, against the probe's.

    ``observe`` is given the writer's error and failure count, and when the probe last answered OK;
    ``section`` then shows the probe's section, or ``write_failed`` while the newest news is a failed
    write: from the first failure until a write succeeds (the error clears) or a probe answers OK
    after it (a write that was only given up is not retried, so nothing else would clear it).
    """

    def __init__(self) -> None:
        self._failures = 0
        self.failed_at: float | None = None  # the last write failure seen and not yet answered
        self.error: str | None = None

    def observe(self, error: str | None, failures: int, probe_ok_at: float | None, now: float) -> None:
        if error is None:
            self.failed_at = self.error = None
        elif failures != self._failures or self.failed_at is None and self.error is None:
            self.failed_at, self.error = now, error  # a new failure (or the first one seen)
        self._failures = failures
        if self.failed_at is not None and probe_ok_at is not None and probe_ok_at > self.failed_at:
            self.failed_at = None  # the probe reached the database since; error kept to spot a new one

    def section(self, probe_section: JSON) -> JSON:
        if self.failed_at is None or self.error is None:
            return probe_section
        return write_failed(self.error)


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
