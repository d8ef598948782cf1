"""Operator commands on a running scheduler, through the database it reads every few seconds:
pause and resume the scheduler or a node, and the database update task's command."""

from __future__ import annotations

import sys

from scheduler.commands import EXIT_INVALID, EXIT_OK, CommandFailed, error, with_database
from scheduler.config import Settings
from scheduler.store.node_rows import set_node_paused
from scheduler.store.scheduler_row import set_scheduler_paused


def pause_scheduler(settings: Settings, paused: bool) -> int:
    try:
        with_database(settings, lambda connection: set_scheduler_paused(connection, paused), migrate_first=True)
    except CommandFailed as exc:
        error(settings, str(exc))
        return exc.code
    word = "paused" if paused else "resumed"
    print(f"scheduler {word}; the running scheduler follows within a few seconds", file=sys.stderr)
    return EXIT_OK


def pause_node(settings: Settings, hostname: str, paused: bool) -> int:
    try:
        found = with_database(
            settings, lambda connection: set_node_paused(connection, hostname, paused), migrate_first=True
        )
    except CommandFailed as exc:
        error(settings, str(exc))
        return exc.code
    if not found:
        error(settings, f"no node with hostname {hostname!r}")
        return EXIT_INVALID
    word = "paused" if paused else "resumed"
    print(f"node {hostname} {word}; the running scheduler follows within a few seconds", file=sys.stderr)
    return EXIT_OK


def update_database(settings: Settings) -> int:
    """The database update task: bring the schema to the newest revision."""
    try:
        with_database(settings, lambda connection: None, migrate_first=True)
    except CommandFailed as exc:
        error(settings, str(exc))
        return exc.code
    print("database is up to date", file=sys.stderr)
    return EXIT_OK
