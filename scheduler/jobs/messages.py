"""The ``queue_jobs`` command message: how producers ask for jobs through the command queue.

The body is JSON (UTF-8, content type ``application/json``)::

    {
      "type": "queue_jobs",
      "id": "5f0c3d9e8a2b4c7e9d1f2a3b4c5d6e7f",
      "jobs": [
        {"job_type": {"name": "my-algorithm", "version": "1.0"}, "priority": 100, "inputs": {"file": "a.tif"}},
        {"job_type": {"name": "my-algorithm", "version": "1.0"}}
      ]
    }

- ``id``: 1 to 64 characters, no spaces or control characters (a uuid4 hex by default). It is the
  message's identity: a message whose id is already stored is acknowledged and not applied again.
- ``jobs``: 1 to 10,000 jobs. ``job_type`` names a registered (name, version); ``version`` is a
  string. ``priority`` is optional (a whole number from 0 to 2147483647, lower runs first, default
  100); ``inputs`` is an optional JSON object.
- Unknown keys are refused, so a misspelt ``priorty`` cannot silently queue at the default priority.
- Every string (keys included, at any depth) is refused if it holds NUL, another control character
  (tab, newline and carriage return are allowed in ``inputs`` values only), a Unicode line or
  direction control, or a lone surrogate (``"\\ud800"``): the database drivers refuse them, and
  they forge log lines and terminal output. ``inputs`` nest at most 32 levels deep.
- Numbers are finite: ``NaN``, ``Infinity`` and ``1e400`` (which would read as infinity) are refused.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from scheduler.jobs.kinds import kind_of

QUEUE_JOBS = "queue_jobs"
MAX_JOBS = 10_000
MAX_ID_LENGTH = 64
MAX_NAME_LENGTH = 100  # job_type.name
MAX_VERSION_LENGTH = 50  # job_type.version
DEFAULT_PRIORITY = 100
MIN_PRIORITY = 0
MAX_PRIORITY = 2**31 - 1  # job.priority is a 32-bit integer column
MAX_PROBLEMS = 20  # a message of 10,000 bad jobs is refused with the first few reasons
MAX_DEPTH = 32  # nesting of ``inputs``

# Never in any string: C0 controls but tab/newline/CR, DEL, C1 controls, lone surrogates.
_BAD_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# Not in names, versions, ids and keys either: any control, line/paragraph separators, bidi controls.
_BAD_NAME = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")

_ID_PATTERN = re.compile("[^\\s\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]{1,64}")
_MESSAGE_KEYS = ("type", "id", "jobs")
_JOB_KEYS = ("job_type", "priority", "inputs")
_JOB_TYPE_KEYS = ("name", "version")


class MessageError(ValueError):
    """A message that cannot be applied; ``problems`` lists the reasons with their places."""

    def __init__(self, problems: list[str], total: int | None = None) -> None:
        self.problems = list(problems)
        self.total = total if total is not None else len(problems)
        super().__init__(summarize(self.problems, self.total))


def summarize(problems: list[str], total: int | None = None) -> str:
    """The problems on one line, for a log."""
    total = len(problems) if total is None else total
    text = "; ".join(problems[:5])
    if total > 5:
        text += f" (and {total - 5} more)"
    return text


@dataclass(frozen=True, slots=True)
class JobRequest:
    name: str
    version: str
    priority: int | None = None  # None: the default, 100
    inputs: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        job: dict[str, Any] = {"job_type": {"name": self.name, "version": self.version}}
        if self.priority is not None:
            job["priority"] = self.priority
        if self.inputs is not None:
            job["inputs"] = dict(self.inputs)
        return job


@dataclass(frozen=True, slots=True)
class QueueJobsMessage:
    id: str
    jobs: tuple[JobRequest, ...]
    type: str = QUEUE_JOBS

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "id": self.id, "jobs": [job.to_json() for job in self.jobs]}

    def body(self) -> bytes:
        """The message body: compact JSON, UTF-8."""
        return json.dumps(self.to_json(), separators=(",", ":"), allow_nan=False).encode("utf-8")

    @property
    def job_type_keys(self) -> set[tuple[str, str]]:
        return {(job.name, job.version) for job in self.jobs}


def new_message_id() -> str:
    return uuid.uuid4().hex


def build_queue_jobs(jobs: Iterable[JobRequest], message_id: str | None = None) -> QueueJobsMessage:
    """A checked message for producers; raises MessageError if it would be refused by the handlers."""
    message = QueueJobsMessage(id=message_id if message_id is not None else new_message_id(), jobs=tuple(jobs))
    # One source of truth: what the handlers would refuse, the builder refuses.
    problems, total = _problems(message.to_json())
    if problems:
        raise MessageError(problems, total)
    try:
        message.body()
    except (TypeError, ValueError) as exc:
        raise MessageError([f"jobs: inputs cannot be sent as JSON ({exc})"]) from None
    return message


def build_queue_jobs_for(
    name: str,
    version: str,
    *,
    count: int = 1,
    priority: int | None = None,
    inputs: Mapping[str, Any] | None = None,
    message_id: str | None = None,
) -> QueueJobsMessage:
    """One message of ``count`` identical jobs of one job type."""
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_JOBS:
        raise MessageError([f"count: must be a whole number from 1 to {MAX_JOBS}, got {count!r}"])
    return build_queue_jobs([JobRequest(name, version, priority, inputs)] * count, message_id)


# --- validation --------------------------------------------------------------------------------


def _kind(value: Any) -> str:
    return kind_of(value)


def _string(problems: list[str], data: dict[str, Any], key: str, place: str, max_length: int) -> str | None:
    value = data.get(key)
    if value is None:
        problems.append(f"{place}.{key}: is required")
        return None
    if not isinstance(value, str):
        problems.append(f"{place}.{key}: must be a string, got {_kind(value)}")
        return None
    if not value.strip():
        problems.append(f"{place}.{key}: must not be empty")
        return None
    if len(value) > max_length:
        problems.append(f"{place}.{key}: must be at most {max_length} characters, got {len(value)}")
        return None
    bad = _BAD_NAME.search(value)
    if bad:
        problems.append(f"{place}.{key}: must not contain {_char(bad.group())}")
        return None
    return value


def _shown(key: Any) -> str:
    """A key as a problem names it: as is when printable, else escaped; at most 80 characters."""
    text = key if isinstance(key, str) and key.isprintable() else ascii(key)
    return text[:80]


def _char(char: str) -> str:
    """A refused character, named without printing it."""
    if "\ud800" <= char <= "\udfff":
        return f"a lone surrogate (U+{ord(char):04X})"
    if char == "\x00":
        return "NUL (U+0000)"
    return f"a control character (U+{ord(char):04X})"


def _text_problems(problems: list[str], value: Any, place: str, depth: int = 0) -> None:
    """Refused characters in every string and key of a JSON value, and nesting too deep."""
    if isinstance(value, str):
        bad = _BAD_TEXT.search(value)
        if bad:
            problems.append(f"{place}: must not contain {_char(bad.group())}")
        return
    if not isinstance(value, (dict, list)):
        return
    if depth >= MAX_DEPTH:
        problems.append(f"{place}: nested deeper than {MAX_DEPTH} levels")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            shown = _shown(key)
            if isinstance(key, str):
                bad = _BAD_NAME.search(key)
                if bad:
                    problems.append(f"{place}: a key must not contain {_char(bad.group())}")
            _text_problems(problems, item, f"{place}.{shown}", depth + 1)
    else:
        for index, item in enumerate(value):
            _text_problems(problems, item, f"{place}[{index}]", depth + 1)


def _job_problems(problems: list[str], job: Any, place: str) -> JobRequest | None:
    if not isinstance(job, dict):
        problems.append(f"{place}: must be an object, got {_kind(job)}")
        return None
    before = len(problems)
    for key in job:
        if key not in _JOB_KEYS:
            problems.append(f"{place}.{_shown(key)}: unknown key")
    job_type = job.get("job_type")
    name = version = None
    if not isinstance(job_type, dict):
        problems.append(f"{place}.job_type: must be an object {{name, version}}, got {_kind(job_type)}")
    else:
        for key in job_type:
            if key not in _JOB_TYPE_KEYS:
                problems.append(f"{place}.job_type.{_shown(key)}: unknown key")
        name = _string(problems, job_type, "name", f"{place}.job_type", MAX_NAME_LENGTH)
        version = _string(problems, job_type, "version", f"{place}.job_type", MAX_VERSION_LENGTH)
    priority = job.get("priority")
    if priority is not None:
        if isinstance(priority, bool) or not isinstance(priority, int):
            problems.append(f"{place}.priority: must be a whole number, got {_kind(priority)}")
        elif not MIN_PRIORITY <= priority <= MAX_PRIORITY:
            problems.append(f"{place}.priority: must be from {MIN_PRIORITY} to {MAX_PRIORITY}, got {priority}")
    inputs = job.get("inputs")
    if inputs is not None and not isinstance(inputs, dict):
        problems.append(f"{place}.inputs: must be a JSON object, got {_kind(inputs)}")
    elif inputs is not None:
        _text_problems(problems, inputs, f"{place}.inputs")
    if len(problems) > before:
        return None
    return JobRequest(name or "", version or "", priority, inputs)


def _problems(data: Any) -> tuple[list[str], int]:
    problems: list[str] = []
    if not isinstance(data, dict):
        return [f"message: must be a JSON object, got {_kind(data)}"], 1
    for key in data:
        if key not in _MESSAGE_KEYS:
            problems.append(f"{_shown(key)}: unknown key")
    kind = data.get("type")
    if kind != QUEUE_JOBS:
        shown = ascii(kind)[:80] if isinstance(kind, str) else _kind(kind)
        problems.append(f"type: must be {QUEUE_JOBS!r}, got {shown}")
    message_id = data.get("id")
    if not isinstance(message_id, str):
        problems.append(f"id: must be a string of 1 to {MAX_ID_LENGTH} characters, got {_kind(message_id)}")
    elif not _ID_PATTERN.fullmatch(message_id):
        problems.append(
            f"id: must be 1 to {MAX_ID_LENGTH} characters without spaces or control characters, "
            f"got {ascii(message_id)[:80]}"
        )
    jobs = data.get("jobs")
    if not isinstance(jobs, list):
        problems.append(f"jobs: must be a list of 1 to {MAX_JOBS} jobs, got {_kind(jobs)}")
    elif not 1 <= len(jobs) <= MAX_JOBS:
        problems.append(f"jobs: must hold 1 to {MAX_JOBS} jobs, got {len(jobs)}")
    else:
        for index, job in enumerate(jobs):
            _job_problems(problems, job, f"jobs[{index}]")
    return problems[:MAX_PROBLEMS], len(problems)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 reads as infinity: refused like Infinity itself
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def decode_body(body: bytes | str) -> Any:
    """The JSON of a message body; raises MessageError if it is not JSON."""
    if isinstance(body, bytes | bytearray | memoryview):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MessageError([f"body: not UTF-8 text ({exc.reason} at byte {exc.start})"]) from None
    if not isinstance(body, str):
        raise MessageError([f"body: expected JSON text, got {type(body).__name__}"])
    try:
        return json.loads(body, parse_constant=_reject_constant, parse_float=_finite_float)
    except (ValueError, RecursionError) as exc:
        raise MessageError([f"body: not valid JSON ({str(exc)[:200]})"]) from None


def parse_message(body: bytes | str | Mapping[str, Any]) -> QueueJobsMessage:
    """The message in a body (raw JSON or already decoded); raises MessageError listing its problems."""
    data = dict(body) if isinstance(body, Mapping) else decode_body(body)
    problems, total = _problems(data)
    if problems:
        raise MessageError(problems, total)
    jobs = tuple(
        JobRequest(
            job["job_type"]["name"],
            job["job_type"]["version"],
            job.get("priority"),
            job.get("inputs"),
        )
        for job in data["jobs"]
    )
    return QueueJobsMessage(id=data["id"], jobs=jobs)


def validate_message(body: bytes | str | Mapping[str, Any]) -> QueueJobsMessage | list[str]:
    """The parsed message, or the list of its problems (at most MAX_PROBLEMS, with a count if more)."""
    try:
        return parse_message(body)
    except MessageError as exc:
        problems = list(exc.problems)
        if exc.total > len(problems):
            problems.append(f"... and {exc.total - len(problems)} more problems")
        return problems
