"""``apply-job-types FILE`` and ``list-job-types``: register job types from a file, show them."""

from __future__ import annotations

import sys
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from scheduler.commands import EXIT_INVALID, EXIT_OK, CommandFailed, error, with_database
from scheduler.config import Settings
from scheduler.jobs.definition_files import DefinitionError, load_job_type_file
from scheduler.jobs.definitions import JobType
from scheduler.store.job_type_rows import job_type_ids, load_job_types, upsert_job_types

MAX_TITLE_WIDTH = 40


def apply_job_types(settings: Settings, path: str | Path) -> int:
    """Validate the file whole, then insert or update its job types; one line per job type."""
    try:
        job_types = load_job_type_file(path)
    except DefinitionError as exc:
        source = exc.source or str(path)
        for problem in exc.problems:
            print(f"{source}: {problem}", file=sys.stderr)
        count = len(exc.problems)
        print(
            f"{source}: {count} problem{'s' if count != 1 else ''}; no job type was stored",
            file=sys.stderr,
        )
        return EXIT_INVALID

    def work(connection: Connection) -> tuple[set[tuple[str, str]], list[JobType]]:
        existing = set(job_type_ids(connection, [(jt.name, jt.version) for jt in job_types], active_only=False))
        return existing, upsert_job_types(connection, job_types)

    try:
        existing, stored = with_database(settings, work, migrate_first=True)
    except CommandFailed as exc:
        error(settings, str(exc))
        return exc.code
    for job_type in stored:
        verb = "updated" if (job_type.name, job_type.version) in existing else "created"
        print(f"{verb} job type {job_type.id}: {job_type.name} {job_type.version}")
    return EXIT_OK


def _number(value: float) -> str:
    return f"{value:g}"


def format_job_types(job_types: list[JobType]) -> str:
    """A plain text table, one job type per line."""
    header = ("ID", "NAME", "VERSION", "TITLE", "CPUS", "MEM", "DISK", "GPUS", "MAX TRIES", "SYSTEM")
    rows = [header]
    for jt in job_types:
        title = jt.title if len(jt.title) <= MAX_TITLE_WIDTH else jt.title[: MAX_TITLE_WIDTH - 3] + "..."
        rows.append(
            (
                str(jt.id),
                jt.name,
                jt.version,
                title.replace("\n", " "),
                _number(jt.cpus),
                _number(jt.mem),
                _number(jt.disk),
                _number(jt.gpus),
                str(jt.max_tries),
                "yes" if jt.is_system else "no",
            )
        )
    numeric = {0, 4, 5, 6, 7, 8}
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for row in rows:
        cells = [cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i]) for i, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def list_job_types(settings: Settings) -> int:
    """Print the active job types as a table (mem and disk in MiB)."""

    def work(connection: Connection) -> list[JobType] | None:
        if not inspect(connection).has_table("job_type"):
            return None
        return load_job_types(connection)

    try:
        job_types = with_database(settings, work)
    except CommandFailed as exc:
        error(settings, str(exc))
        return exc.code
    if not job_types:
        print("no job types registered")
        return EXIT_OK
    print(format_job_types(job_types))
    return EXIT_OK
