"""Job type definition files: YAML or JSON, validated whole before anything is stored.

A file holds a list of job types, or a mapping ``{"job_types": [...]}``. JSON is read as JSON and
anything else as YAML (``yaml.safe_load``). Every problem is collected with its place, e.g.
``job_types[2].resources.cpus: must be greater than 0``; a file with any problem is refused whole.

Example (YAML)::

    job_types:
      - name: my-algorithm
        version: "1.0"          # a string: quote it, a bare 1.0 is a number and is refused
        title: My algorithm
        resources: {cpus: 1.5, mem: 2048, disk: 1024, gpus: 0}
        command: run-algorithm --in /data
        image: registry.example.com/my-algorithm:1.0
        max_tries: 3
        error_mapping: {2: DATA, 3: ALGORITHM}

Limits: a file of at most 1 MiB and 1,000 job types; a command or description of at most 64 KiB.
No string may hold NUL or another control character (a command and a description may hold tabs
and line breaks); ``image`` follows Docker's reference grammar (``[host[:port]/]path[:tag][@digest]``,
lower-case path components that start with a letter or digit, so never an option like
``--privileged``). A syntax error names its place but never quotes the file, and no input, however
broken, ends in a traceback.

Versions must be strings. YAML reads ``version: 1.0`` as the number 1.0 and ``version: 1.10`` as
1.1, so taking a number's text would silently register the wrong version; such a version is refused
with a message telling to quote it.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from scheduler.jobs.definitions import ErrorCategory, JobType
from scheduler.jobs.kinds import kind_of

NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]*")
MAX_NAME = 100  # job_type.name
MAX_VERSION = 50  # job_type.version
MAX_TITLE = 250  # job_type.title
MAX_ICON_CODE = 20  # job_type.icon_code
MAX_IMAGE = 500  # job_type.image
MAX_EXIT_CODE = 255
MAX_TRIES = 100
MAX_COMMAND = 64 * 1024
MAX_DESCRIPTION = 64 * 1024
MAX_FILE_BYTES = 1024 * 1024
MAX_JOB_TYPES = 1000

# Controls never allowed in a string; MULTILINE strings (command, description) may hold \t and \n.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_CONTROL_MULTILINE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")

# Docker's image reference grammar: [domain[:port]/]component(/component)*[:tag][@digest].
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*(?::[0-9]+)?)"
_PATH_PART = r"(?:[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)"
_TAG = r"(?:[\w][\w.-]{0,127})"
_DIGEST = r"(?:[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})"
IMAGE_PATTERN = re.compile(rf"(?:{_DOMAIN}/)?{_PATH_PART}(?:/{_PATH_PART})*(?::{_TAG})?(?:@{_DIGEST})?")
MAX_IMAGE_NAME = 255  # the repository name, without tag and digest

DEFAULT_RESOURCES = {"cpus": 1.0, "mem": 128.0, "disk": 0.0, "gpus": 0.0}
JOB_TYPE_KEYS = (
    "name",
    "version",
    "title",
    "description",
    "is_system",
    "icon_code",
    "resources",
    "command",
    "image",
    "max_tries",
    "error_mapping",
)
RESOURCE_KEYS = ("cpus", "mem", "disk", "gpus")


class DefinitionError(ValueError):
    """A definition file that cannot be used; ``problems`` lists every reason with its place."""

    def __init__(self, problems: list[str], source: str = "") -> None:
        self.problems = list(problems)
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__(prefix + "; ".join(self.problems))


# --- reading -----------------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """safe_load, except that a key given twice in one mapping is an error instead of last-wins."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # <<: *anchor, resolved by the base class
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key: the base class reports it
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def _json_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _json_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_document(text: str) -> Any:
    """The data of a JSON or YAML document; raises DefinitionError with the place of a syntax error."""
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            return json.loads(text, object_pairs_hook=_json_pairs, parse_constant=_json_constant)
        except json.JSONDecodeError as exc:  # its message names the place, never the text
            raise DefinitionError([_printable(f"not valid JSON: {exc}")]) from None
        except ValueError as exc:  # our hooks (duplicate key, NaN) and over-long integers
            raise DefinitionError([_printable(f"not valid JSON: {exc}")]) from None
        except RecursionError:
            raise DefinitionError(["not valid JSON: nested too deeply"]) from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = _unquoted(exc.problem or exc.context or "syntax error")
        raise DefinitionError([_printable(f"not valid YAML{where}: {what}")]) from None
    except RecursionError:
        raise DefinitionError(["not valid YAML: nested too deeply"]) from None
    except Exception as exc:  # YAMLError without a place, or a constructor's ValueError (a bad date)
        raise DefinitionError([f"not valid YAML: {_kind_of_error(exc)}"]) from None


def _unquoted(problem: str) -> str:
    """PyYAML's problem text without what it quotes from the file (tags, aliases), but our duplicate keys."""
    if problem.startswith("duplicate key "):
        return problem[:120]
    return re.sub(r"'[^']{5,}'|\"[^\"]{5,}\"", "'…'", problem)


def _kind_of_error(exc: BaseException) -> str:
    if isinstance(exc, yaml.YAMLError):
        return "syntax error"
    return "a value cannot be read (an invalid date or number?)"


# --- validation --------------------------------------------------------------------------------


@dataclass
class _Checker:
    problems: list[str]

    def add(self, place: str, message: str) -> None:
        self.problems.append(_printable(f"{place}: {message}"))

    def string(
        self,
        data: dict[str, Any],
        key: str,
        place: str,
        *,
        required: bool = False,
        max_length: int | None = None,
        default: str | None = "",
        multiline: bool = False,
    ) -> str | None:
        value = data.get(key)
        where = f"{place}.{key}"
        if value is None:
            if required:
                self.add(where, "is required")
            return default
        if not isinstance(value, str):
            hint = ""
            if key == "version" and isinstance(value, (int, float)) and not isinstance(value, bool):
                hint = '; write it in quotes (version: "1.0"): unquoted, YAML reads it as a number, and 1.10 as 1.1'
            self.add(where, f"must be a string, got {_kind(value)}{hint}")
            return default
        if required and not value.strip():
            self.add(where, "must not be empty")
            return default
        if max_length is not None and len(value) > max_length:
            self.add(where, f"must be at most {max_length} characters, got {len(value)}")
            return default
        bad = (_CONTROL_MULTILINE if multiline else _CONTROL).search(value)
        if bad:
            self.add(where, f"must not contain the control character U+{ord(bad.group()):04X}")
            return default
        return value


def _printable(text: str, limit: int = 300) -> str:
    """A problem as one printable line: control characters escaped, at most ``limit`` characters."""
    text = _CONTROL.sub(lambda m: ascii(m.group())[1:-1], text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _image_problem(image: str) -> str | None:
    """Why ``image`` is not a Docker image reference, or None."""
    if not IMAGE_PATTERN.fullmatch(image):
        return (
            "must be a Docker image reference ([registry/]name[:tag][@digest], lower-case name parts "
            f"starting with a letter or digit), got {ascii(image)[:80]}"
        )
    name = image.split("@", 1)[0]
    if ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]
    if len(name) > MAX_IMAGE_NAME:
        return f"the image name must be at most {MAX_IMAGE_NAME} characters, got {len(name)}"
    return None


def _kind(value: Any) -> str:
    return kind_of(value, mapping="a mapping", show_boolean=True)


def _is_number(value: Any) -> bool:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value) and abs(value) <= 1e15  # an int too large for a float is refused too
    except OverflowError:
        return False


def _resources(check: _Checker, value: Any, place: str) -> dict[str, float]:
    resources = dict(DEFAULT_RESOURCES)
    if value is None:
        return resources
    if not isinstance(value, dict):
        check.add(place, f"must be a mapping of cpus, mem, disk, gpus, got {_kind(value)}")
        return resources
    for key in value:
        if key not in RESOURCE_KEYS:
            check.add(f"{place}.{key}", f"unknown resource (known: {', '.join(RESOURCE_KEYS)})")
    for key in RESOURCE_KEYS:
        if key not in value:
            continue
        amount = value[key]
        where = f"{place}.{key}"
        if not _is_number(amount):
            check.add(where, f"must be a number, got {_kind(amount)}")
            continue
        if key == "cpus" and amount <= 0:
            check.add(where, f"must be greater than 0, got {amount!r}")
        elif amount < 0:
            check.add(where, f"must be at least 0, got {amount!r}")
        elif key == "gpus" and float(amount) != int(amount):
            check.add(where, f"must be a whole number, got {amount!r}")
        else:
            resources[key] = float(amount)
    return resources


def _error_mapping(check: _Checker, value: Any, place: str) -> dict[int, ErrorCategory]:
    mapping: dict[int, ErrorCategory] = {}
    if value is None:
        return mapping
    if not isinstance(value, dict):
        check.add(place, f"must be a mapping of exit code to DATA or ALGORITHM, got {_kind(value)}")
        return mapping
    allowed = (ErrorCategory.DATA.value, ErrorCategory.ALGORITHM.value)
    for raw_code, raw_category in value.items():
        where = f"{place}.{raw_code}"
        code: int | None = None
        if isinstance(raw_code, int) and not isinstance(raw_code, bool):
            code = raw_code
        elif isinstance(raw_code, str) and re.fullmatch(r"[0-9]+", raw_code.strip()):
            code = int(raw_code)
        if code is None:
            check.add(where, f"exit code must be a whole number from 1 to {MAX_EXIT_CODE}")
        elif not 1 <= code <= MAX_EXIT_CODE:
            check.add(where, f"exit code must be from 1 to {MAX_EXIT_CODE}, got {code}")
        elif code in mapping:
            check.add(where, f"exit code {code} is mapped twice")
            code = None
        if raw_category not in allowed:
            check.add(where, f"must be DATA or ALGORITHM, got {raw_category!r}")
        elif code is not None:
            mapping[code] = ErrorCategory(raw_category)
    return mapping


def _job_type(check: _Checker, data: Any, place: str) -> JobType | None:
    if not isinstance(data, dict):
        check.add(place, f"must be a mapping, got {_kind(data)}")
        return None
    before = len(check.problems)
    for key in data:
        if key not in JOB_TYPE_KEYS:
            check.add(f"{place}.{key}", "unknown key")

    name = check.string(data, "name", place, required=True, max_length=MAX_NAME)
    if name and not NAME_PATTERN.fullmatch(name):
        check.add(
            f"{place}.name",
            f"{ascii(name)[:80]} must start with a lower-case letter or digit and hold only a-z, 0-9, '.', '_', '-'",
        )
    version = check.string(data, "version", place, required=True, max_length=MAX_VERSION)
    if version and version != version.strip():
        check.add(f"{place}.version", f"must not start or end with spaces, got {version!r}")
    title = check.string(data, "title", place, max_length=MAX_TITLE)
    description = check.string(data, "description", place, max_length=MAX_DESCRIPTION, multiline=True)
    icon_code = check.string(data, "icon_code", place, max_length=MAX_ICON_CODE)
    command = check.string(data, "command", place, required=True, max_length=MAX_COMMAND, multiline=True)
    image = check.string(data, "image", place, max_length=MAX_IMAGE, default=None)
    if image is not None and (not image.strip() or any(c.isspace() for c in image)):
        check.add(f"{place}.image", f"must be a docker image name without spaces, got {ascii(image)[:80]}")
    elif image is not None and (problem := _image_problem(image)):
        check.add(f"{place}.image", problem)

    is_system = data.get("is_system", False)
    if is_system is None:
        is_system = False
    if not isinstance(is_system, bool):
        check.add(f"{place}.is_system", f"must be true or false, got {_kind(is_system)}")
        is_system = False

    max_tries = data.get("max_tries", 3)
    if max_tries is None:
        max_tries = 3
    if not isinstance(max_tries, int) or isinstance(max_tries, bool):
        check.add(f"{place}.max_tries", f"must be a whole number, got {_kind(max_tries)}")
        max_tries = 3
    elif max_tries < 1:
        check.add(f"{place}.max_tries", f"must be at least 1, got {max(max_tries, -(10**9))}")
    elif max_tries > MAX_TRIES:
        check.add(f"{place}.max_tries", f"must be at most {MAX_TRIES}")

    resources = _resources(check, data.get("resources"), f"{place}.resources")
    error_mapping = _error_mapping(check, data.get("error_mapping"), f"{place}.error_mapping")

    if len(check.problems) > before:
        return None
    return JobType(
        name=name or "",
        version=version or "",
        command=command or "",
        cpus=resources["cpus"],
        mem=resources["mem"],
        disk=resources["disk"],
        gpus=resources["gpus"],
        title=title or "",
        description=description or "",
        is_system=is_system,
        icon_code=icon_code or "",
        image=image,
        max_tries=max_tries,
        error_mapping=error_mapping,
    )


def validate_job_types(data: Any) -> tuple[list[JobType], list[str]]:
    """The job types in parsed data, and every problem found (the job types are usable only if none)."""
    check = _Checker([])
    place = "job_types"
    if isinstance(data, dict):
        for key in data:
            if key != "job_types":
                check.add(str(key), "unknown key (a file holds a list of job types or {job_types: [...]})")
        if "job_types" not in data:
            check.add("job_types", "is required")
            return [], check.problems
        data = data["job_types"]
    if not isinstance(data, list):
        check.add(place, f"must be a list of job types, got {_kind(data)}")
        return [], check.problems
    if not data:
        check.add(place, "the file holds no job types")
    if len(data) > MAX_JOB_TYPES:
        check.add(place, f"a file holds at most {MAX_JOB_TYPES} job types, got {len(data)}")
        return [], check.problems
    job_types: list[JobType] = []
    first_place: dict[tuple[str, str], str] = {}
    for index, item in enumerate(data):
        item_place = f"{place}[{index}]"
        job_type = _job_type(check, item, item_place)
        if isinstance(item, dict) and isinstance(item.get("name"), str) and isinstance(item.get("version"), str):
            key = (item["name"], item["version"])
            if key in first_place:
                check.add(item_place, f"duplicate of {first_place[key]} (name {key[0]!r}, version {key[1]!r})")
                continue
            first_place[key] = item_place
        if job_type is not None:
            job_types.append(job_type)
    return job_types, check.problems


def parse_job_types(text: str, source: str = "") -> list[JobType]:
    """The job types of a YAML or JSON document; raises DefinitionError listing every problem."""
    data = parse_document(text)
    job_types, problems = validate_job_types(data)
    if problems:
        raise DefinitionError(problems, source)
    return job_types


def load_job_type_file(path: str | Path) -> list[JobType]:
    """The job types of a file; raises DefinitionError (also when the file cannot be read)."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise DefinitionError([f"is larger than {MAX_FILE_BYTES} bytes"], str(path))
        text = data.decode("utf-8")
    except FileNotFoundError:
        raise DefinitionError(["no such file"], str(path)) from None
    except IsADirectoryError:
        raise DefinitionError(["is a directory, not a file"], str(path)) from None
    except OSError as exc:
        raise DefinitionError([f"cannot read it ({exc.strerror})"], str(path)) from None
    except UnicodeDecodeError:
        raise DefinitionError(["is not UTF-8 text"], str(path)) from None
    try:
        return parse_job_types(text, str(path))
    except DefinitionError as exc:
        exc.source = str(path)
        raise DefinitionError(exc.problems, str(path)) from None
