"""``scale-scheduler status [--url URL] [--watch]``: the cluster at a glance, in a terminal.

Reads ``/v6/status/`` (and ``/v6/queue/status/`` when the server has it) and prints nodes by state,
resources as bars, the queue with its pending reasons, dependencies, warnings and the status age.
Every string from the server is untrusted: control characters (an escape sequence in a hostname
could rewrite the operator's terminal) are shown escaped, and long strings are cut.
"""

from __future__ import annotations

import json
import sys
import time
import unicodedata
import urllib.error
import urllib.request
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from scheduler.commands import EXIT_FAILED, EXIT_OK
from scheduler.timefmt import parse_iso

MAX_BODY = 256 * 1024 * 1024  # a 10,000-node status is 12 MB; anything far larger is refused
MAX_TEXT = 160  # characters of one server string shown
TIMEOUT_S = 10.0
WATCH_S = 2.0
BAR_WIDTH = 30
LISTED_NODES = 12  # nodes not READY listed by name
RESOURCES = ("cpus", "mem", "gpus", "disk")
PARTS = (("running", "#"), ("offered", "+"), ("free", "-"), ("unavailable", "."))
STATE_ORDER = (
    "READY",
    "INITIAL_CLEANUP",
    "IMAGE_PULL",
    "DEGRADED",
    "OFFLINE",
    "PAUSED",
    "SCHEDULER_STOPPED",
    "DEPRECATED",
)


def clean(value: Any, limit: int = MAX_TEXT) -> str:
    """A server string made safe to print: control and format characters escaped, length capped."""
    text = value if isinstance(value, str) else "" if value is None else str(value)
    out = []
    for char in text[: limit * 2]:
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"):
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            out.append(char)
    shown = "".join(out)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _state(value: Any) -> str:
    name = _dict(value).get("name") if isinstance(value, dict) else value
    return clean(name, 40) if name else "UNKNOWN"


def amount(resource: str, value: float) -> str:
    if resource in ("mem", "disk"):  # MB, as Mesos counts them
        for unit, size in (("TB", 1024 * 1024), ("GB", 1024)):
            if value >= size:
                return f"{value / size:.1f} {unit}"
        return f"{value:.0f} MB"
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def age_text(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def condition_text(condition: Any) -> str:
    """Node conditions are {name, title, description}; dependency ones Scale writes as {"NAME": "message"}."""
    if isinstance(condition, dict):
        if "title" in condition or "description" in condition:
            title = clean(condition.get("title") or condition.get("name"), 60)
            return f"{title}: {clean(condition.get('description'))}" if condition.get("description") else title
        return "; ".join(f"{clean(k, 60)}: {clean(v)}" for k, v in condition.items())
    return clean(condition)


def bar(resource: str, breakdown: dict) -> str:
    total = _number(breakdown.get("total")) or sum(_number(breakdown.get(p)) for p, _ in PARTS)
    cells = ""
    if total > 0:
        for part, mark in PARTS:
            cells += mark * round(BAR_WIDTH * _number(breakdown.get(part)) / total)
    cells = (cells + " " * BAR_WIDTH)[:BAR_WIDTH]
    numbers = "  ".join(f"{part} {amount(resource, _number(breakdown.get(part)))}" for part, _ in PARTS)
    return f"  {clean(resource, 8):<6}[{cells}] {numbers}  of {amount(resource, total)}"


def nodes_lines(nodes: list) -> list[str]:
    states = Counter(_state(_dict(n).get("state")) for n in nodes)
    order = [s for s in STATE_ORDER if s in states] + sorted(s for s in states if s not in STATE_ORDER)
    lines = [f"Nodes      {len(nodes)}" + (": " + ", ".join(f"{s} {states[s]}" for s in order) if nodes else "")]
    troubled = [
        _dict(n)
        for n in nodes
        if _state(_dict(n).get("state")) != "READY" or _dict(n).get("errors") or _dict(n).get("warnings")
    ]
    for node in troubled[:LISTED_NODES]:
        problems = [condition_text(c) for c in _list(node.get("errors")) + _list(node.get("warnings"))]
        detail = ("  " + "; ".join(problems)) if problems else ""
        lines.append(f"  {_state(node.get('state')):<18}{clean(node.get('hostname'), 60)}{detail}")
    if len(troubled) > LISTED_NODES:
        lines.append(f"  ... and {len(troubled) - LISTED_NODES} more nodes not READY or with conditions")
    return lines


def queue_lines(queue: dict | None, queue_error: str | None, now: float) -> list[str]:
    if queue is None:
        return [f"Queue      {queue_error or 'not available'}"]
    results = [_dict(r) for r in _list(queue.get("results"))]
    if not results:
        return ["Queue      empty"]
    total = sum(_number(r.get("count")) for r in results)
    lines = [
        f"Queue      {total:.0f} jobs of {len(results)} job types",
        "  JOB TYPE                    QUEUED  PRIORITY  OLDEST  WHY PENDING",
    ]
    for result in results:
        job_type = _dict(result.get("job_type"))
        name = clean(f"{job_type.get('name') or '?'} {job_type.get('version') or ''}".strip(), 26)
        oldest = ""
        if isinstance(result.get("longest_queued"), str):
            try:
                oldest = age_text(now - parse_iso(result["longest_queued"]))
            except ValueError:
                oldest = "?"
        reasons = ", ".join(f"{clean(k, 40)} {_number(v):.0f}" for k, v in _dict(result.get("pending_reasons")).items())
        priority = clean(result.get("highest_priority"), 8)
        lines.append(f"  {name:<26}{_number(result.get('count')):>8.0f}  {priority:>8}  {oldest:>6}  {reasons}")
    count = _number(queue.get("count"))
    if count > len(results):
        lines.append(f"  ... {count - len(results):.0f} more job types")
    return lines


def dependency_lines(dependencies: dict) -> list[str]:
    lines = ["Dependencies"]
    for name, section in dependencies.items():
        section = _dict(section)
        errors, warnings = _list(section.get("errors")), _list(section.get("warnings"))
        light = "FAIL" if section.get("OK") is False or errors else "warn" if warnings else "ok"
        message = clean(_dict(section.get("detail")).get("msg"))
        lines.append(f"  {light:<5}{clean(name, 20):<15}{message}")
        lines.extend(f"{'':22}error: {condition_text(c)}" for c in errors)
        lines.extend(f"{'':22}warning: {condition_text(c)}" for c in warnings)
    return lines


@dataclass(frozen=True, slots=True)
class Fetched:
    status: dict | None
    status_error: str | None
    age_s: float | None  # the document's age by the server's own clock (its Date header)
    queue: dict | None
    queue_error: str | None


def render(fetched: Fetched, now: float) -> str:
    status = fetched.status
    if status is None:
        return f"Status     unavailable: {fetched.status_error}\n"
    scheduler = _dict(status.get("scheduler"))
    age = "age unknown" if fetched.age_s is None else f"{age_text(fetched.age_s)} old"
    stamp = clean(status.get("timestamp"), 40)
    framework = clean(_dict(scheduler.get("mesos")).get("framework_id"), 80)
    lines = [
        f"Scheduler  {_state(scheduler.get('state'))}  on {clean(scheduler.get('hostname'), 80) or '?'}"
        + (f", framework {framework}" if framework else ""),
        f"Status     {age} ({stamp})",
    ]
    warnings = _list(scheduler.get("warnings"))
    lines.append("Warnings   " + ("none" if not warnings else condition_text(warnings[0])))
    lines.extend(f"           {condition_text(w)}" for w in warnings[1:])
    metrics = _dict(scheduler.get("metrics"))
    if metrics:
        shown = [
            f"{clean(k, 40).removesuffix('_per_sec').replace('_', ' ')} {_number(v):g}/s" for k, v in metrics.items()
        ]
        lines.append("Rates      " + ", ".join(shown))
    lines.append("")
    lines.extend(nodes_lines(_list(status.get("nodes"))))
    lines.append("")
    resources = _dict(status.get("resources"))
    names = [r for r in RESOURCES if r in resources] + sorted(r for r in resources if r not in RESOURCES)
    lines.append(
        f"Resources  ({', '.join(f'{mark} {part}' for part, mark in PARTS)}); offers held {_number(status.get('num_offers')):.0f}"
    )
    lines.extend(bar(name, _dict(resources[name])) for name in names)
    lines.append("")
    lines.extend(queue_lines(fetched.queue, fetched.queue_error, now))
    lines.append("")
    lines.extend(dependency_lines(_dict(status.get("dependencies"))))
    return "\n".join(lines) + "\n"


def get_json(url: str, timeout_s: float = TIMEOUT_S) -> tuple[int, Any, float | None]:
    """(HTTP status, parsed body or None, server time from the Date header); gzip accepted, size capped."""
    request = urllib.request.Request(url, headers={"Accept": "application/json", "Accept-Encoding": "gzip"})
    try:
        response = urllib.request.urlopen(request, timeout=timeout_s)
    except urllib.error.HTTPError as exc:
        response = exc
    with response:
        raw = response.read(MAX_BODY + 1)
        if len(raw) > MAX_BODY:
            raise ValueError(f"the answer is larger than {MAX_BODY} bytes")
        if response.headers.get("Content-Encoding", "").lower() == "gzip":
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            raw = inflater.decompress(raw, MAX_BODY + 1)
            if len(raw) > MAX_BODY or inflater.unconsumed_tail:
                raise ValueError(f"the answer inflates beyond {MAX_BODY} bytes")
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        server_time = None
        if response.headers.get("Date"):
            try:
                server_time = parsedate_to_datetime(response.headers["Date"]).timestamp()
            except (TypeError, ValueError):
                pass
        return response.code, body, server_time


def fetch(base_url: str) -> Fetched:
    base = base_url.rstrip("/")
    try:
        code, status, server_time = get_json(base + "/v6/status/")
    except (OSError, ValueError, zlib.error) as exc:
        return Fetched(None, f"cannot read {clean(base)}/v6/status/: {clean(exc)}", None, None, None)
    if code != 200 or not isinstance(status, dict):
        detail = _dict(status).get("detail") or f"HTTP {code}"
        return Fetched(None, f"{clean(detail)} (HTTP {code})", None, None, None)
    age = None
    if server_time is not None:
        try:
            age = server_time - parse_iso(status.get("timestamp"))
        except (TypeError, ValueError, AttributeError):
            age = None
    queue, queue_error = None, None
    try:
        code, body, _ = get_json(base + "/v6/queue/status/?page_size=100")
        if code == 200 and isinstance(body, dict):
            queue = body
        else:
            queue_error = "not served by this scheduler" if code == 404 else f"unavailable (HTTP {code})"
    except (OSError, ValueError, zlib.error) as exc:
        queue_error = f"unavailable: {clean(exc)}"
    return Fetched(status, None, age, queue, queue_error)


def status_command(
    url: str,
    *,
    watch: bool = False,
    out=None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> int:
    out = out or sys.stdout
    try:
        while True:
            fetched = fetch(url)
            text = render(fetched, clock())
            if watch:  # home and clear, then the new screen: no scrolling history of screens
                text = "\x1b[H\x1b[2J" + text + f"\nEvery {WATCH_S:g} s from {clean(url)}; Ctrl-C to stop.\n"
            out.write(text)
            out.flush()
            if not watch:
                return EXIT_OK if fetched.status is not None else EXIT_FAILED
            sleep(WATCH_S)
    except KeyboardInterrupt:
        out.write("\n")
        return EXIT_OK
