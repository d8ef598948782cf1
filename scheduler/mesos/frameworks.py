"""Other frameworks on the master that look like this scheduler: ghosts (Scale issue 1900).

After a master election a second framework with Scale's name ran the same jobs. Reading the
master's operator API (``GET_FRAMEWORKS``), or its ``/master/frameworks`` (or ``/master/state``)
JSON, a framework other than ours with our name or our principal is a ghost when the master still
holds it: active, or inactive (disconnected, inside its failover timeout, its tasks still running),
or recovered (known from the agents after a master failover, not yet re-subscribed): Mesos lists all
three in ``frameworks`` (``Master::Http::frameworks``, ``FullFrameworkWriter``; ``GetFrameworks``).
``completed_frameworks`` are removed and can run nothing, so they are not reported;
``unregistered_frameworks`` are bare ids (pre-1.0 agents) with no name.
Pure: JSON in, plain strings out; the input is the master's and is read defensively (wrong types
skipped, sizes bounded, text cleaned).
"""

from __future__ import annotations

import math
from typing import Any

MAX_FRAMEWORKS = 100_000  # a master listing more is not believed past this point
MAX_GHOSTS = 50
MAX_TEXT = 120
MAX_RESOURCES = 1_000  # allocated resource entries read per framework (Mesos merges them by name and role)
SHOWN_RESOURCES = ("cpus", "mem", "gpus")
UNITS = {"cpus": "cpus", "mem": "MB of memory", "gpus": "gpus"}


def ghost_frameworks(frameworks_json: Any, our_id: str | None, name: str, principal: str | None) -> list[str]:
    """One line per other framework with our name or principal, ``"<id> (...)"``, sorted by id."""
    if not isinstance(frameworks_json, dict):
        return []
    listed = frameworks_json.get("frameworks")
    if not isinstance(listed, list):
        return []
    ghosts: dict[str, str] = {}
    for framework in listed[:MAX_FRAMEWORKS]:
        if not isinstance(framework, dict):
            continue
        framework_id = framework.get("id")
        if not isinstance(framework_id, str) or not framework_id or framework_id == our_id:
            continue
        their_name, their_principal = framework.get("name"), framework.get("principal")
        same_name = isinstance(their_name, str) and their_name == name
        same_principal = bool(principal) and isinstance(their_principal, str) and their_principal == principal
        if same_name or same_principal:
            ghosts[framework_id] = _describe(framework, same_name, same_principal)
    return [f"{_clean(fid)} ({ghosts[fid]})" for fid in sorted(ghosts)[:MAX_GHOSTS]]


def listed_by_operator_api(answer: Any) -> dict:
    """The operator API's ``GET_FRAMEWORKS`` answer in the ``/master/frameworks`` form that
    ``ghost_frameworks`` reads (``frameworks``: id, name, principal, hostname, active, recovered),
    with ``allocated``: the cpus, mem and gpus the framework holds (its tasks' and executors').

    Same frameworks, same authorization filter (``VIEW_FRAMEWORK``), but without their tasks: at
    15,000 running tasks ``/master/frameworks`` is 8 MB built in the master's one actor; this grows
    with the offers in hand instead. What a ghost holds says whether it runs work, as the task count
    of ``/master/frameworks`` did.
    Entries of the wrong shape are skipped, as ``ghost_frameworks`` skips them."""
    if not isinstance(answer, dict) or not isinstance(answer.get("get_frameworks"), dict):
        raise ValueError("not a GET_FRAMEWORKS answer")
    listed = answer["get_frameworks"].get("frameworks", [])  # an empty repeated field is left out
    if not isinstance(listed, list):
        raise ValueError("get_frameworks.frameworks is not a list")
    frameworks = []
    for entry in listed[:MAX_FRAMEWORKS]:
        info = entry.get("framework_info") if isinstance(entry, dict) else None
        framework_id = info.get("id") if isinstance(info, dict) else None
        if not isinstance(framework_id, dict):
            continue
        frameworks.append(
            {
                "id": framework_id.get("value"),
                "name": info.get("name"),
                "principal": info.get("principal"),
                "hostname": info.get("hostname"),
                "active": entry.get("active"),
                "recovered": entry.get("recovered"),
                "allocated": _allocated(entry.get("allocated_resources")),
            }
        )
    return {"frameworks": frameworks}


def _allocated(resources: Any) -> dict[str, float]:
    """Scalar totals of ``allocated_resources`` by name (cpus, mem, gpus); malformed entries skipped."""
    totals = dict.fromkeys(SHOWN_RESOURCES, 0.0)
    for resource in resources[:MAX_RESOURCES] if isinstance(resources, list) else ():
        name = resource.get("name") if isinstance(resource, dict) else None
        if not isinstance(name, str) or name not in totals:
            continue
        scalar = resource.get("scalar")
        value = scalar.get("value") if isinstance(scalar, dict) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0:
            totals[name] += value
    return totals


def _describe(framework: dict, same_name: bool, same_principal: bool) -> str:
    parts = []
    if same_name:
        parts.append(f"name {_clean(framework['name'])!r}")
    if same_principal:
        parts.append(f"principal {_clean(framework['principal'])!r}")
    if framework.get("recovered") is True:
        parts.append("recovered")
    else:
        parts.append("active" if framework.get("active") is True else "inactive")
    hostname = framework.get("hostname")
    if isinstance(hostname, str) and hostname:
        parts.append(f"hostname {_clean(hostname)}")
    tasks = framework.get("tasks")
    if isinstance(tasks, list):
        parts.append(f"{len(tasks)} tasks")
    allocated = framework.get("allocated")
    if isinstance(allocated, dict):
        held = [f"{allocated[name]:g} {UNITS[name]}" for name in SHOWN_RESOURCES if allocated.get(name)]
        parts.append("holding " + " and ".join(held) if held else "holding nothing")
    return ", ".join(parts)


def _clean(text: str) -> str:
    """Printable and short: the text goes into a warning an operator reads."""
    cleaned = "".join(c if c.isprintable() else "?" for c in text[: MAX_TEXT + 1])
    return cleaned if len(cleaned) <= MAX_TEXT else cleaned[: MAX_TEXT - 3] + "..."
