"""``scale-scheduler check-status``: compare the job execution counts a status shows with the database.

The status must never lie; this is how an operator (or a test) sees that it does not. The window
of finished executions is the one the status used, from its own timestamp.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from urllib.parse import urlsplit, urlunsplit

from scheduler.commands import EXIT_FAILED, EXIT_OK, CommandFailed, error, with_database
from scheduler.config import Settings
from scheduler.jobs.exe_metrics import window_start
from scheduler.store.scheduling import count_exes_by_node
from scheduler.timefmt import parse_iso

BUCKETS = ("running", "completed", "data", "algorithm", "system")
STATUS_PATH = "/v6/status/"
MAX_STATUS_BYTES = 256 * 1024 * 1024  # a 10,000-node status is tens of MB


def status_url(url: str) -> str:
    """The status URL as given; a bare scheduler address (no path) means its ``/v6/status/``."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"expected an http:// or https:// URL, got {url!r}")
    if parts.path in ("", "/"):
        parts = parts._replace(path=STATUS_PATH)
    return urlunsplit(parts)


def status_counts(document: dict) -> dict[int, dict[str, int]]:
    counts = {}
    for node in document.get("nodes", []):
        executions = node.get("job_executions")
        if executions is None:
            continue
        failed = executions["failed"]
        counts[node["id"]] = {
            "running": executions["running"]["total"],
            "completed": executions["completed"]["total"],
            "data": failed["data"]["total"],
            "algorithm": failed["algorithm"]["total"],
            "system": failed["system"]["total"],
        }
    return counts


def compare(shown: dict[int, dict[str, int]], stored: dict[int, dict[str, int]]) -> list[str]:
    zero = dict.fromkeys(BUCKETS, 0)
    problems = []
    for node_id in sorted(set(shown) | set(stored)):
        a, b = shown.get(node_id, zero), stored.get(node_id, zero)
        for bucket in BUCKETS:
            if a[bucket] != b[bucket]:
                problems.append(f"node {node_id} {bucket}: status shows {a[bucket]}, database holds {b[bucket]}")
    return problems


def check_status(settings: Settings, url: str) -> int:
    try:
        url = status_url(url)
        with urllib.request.urlopen(url, timeout=10) as resp:
            body = resp.read(MAX_STATUS_BYTES + 1)
        if len(body) > MAX_STATUS_BYTES:
            raise ValueError(f"the status is larger than {MAX_STATUS_BYTES} bytes")
        document = json.loads(body)
        if not isinstance(document, dict) or "timestamp" not in document:
            raise ValueError("the answer is not a v6 status (no timestamp)")
    except (OSError, ValueError) as exc:  # URLError and HTTPError are OSErrors; JSON errors ValueErrors
        error(settings, f"cannot read the status from {url}: {exc}")
        return EXIT_FAILED
    generated = parse_iso(document["timestamp"])
    since = window_start(generated)
    try:
        stored = with_database(settings, lambda connection: count_exes_by_node(connection, since, generated))
    except CommandFailed as exc:
        error(settings, str(exc))
        return exc.code
    shown = status_counts(document)
    problems = compare(shown, stored)
    for line in problems:
        print(line)
    totals = {bucket: sum(c[bucket] for c in shown.values()) for bucket in BUCKETS}
    verdict = "MISMATCH" if problems else "match"
    print(f"{len(shown)} nodes; status {totals}; {verdict}", file=sys.stderr)
    return EXIT_FAILED if problems else EXIT_OK
