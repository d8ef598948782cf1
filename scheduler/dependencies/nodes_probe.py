"""``dependencies.nodes``: enough nodes online, from the state names the status currently shows.

Scale's rule: no nodes is an error; offline + degraded > 0.3 x nodes (strictly; the message says
"a third") is an error; offline and degraded counts are warnings, also when the error fires. Other
states (DEPRECATED, PAUSED, ...) count as nodes but not as failing. Lost agents are shown OFFLINE
here until retired, so unlike Scale this check does not under-report them.
"""

from __future__ import annotations

from collections.abc import Iterable

from scheduler.dependencies.common import JSON, section

ERROR_FRACTION = 0.3


def nodes_section(states: Iterable[str]) -> JSON:
    states = list(states)
    if not states:
        return section(False, {"msg": "No nodes reported"}, [{"NODES_OFFLINE": "No nodes reported."}])
    offline = sum(1 for state in states if state == "OFFLINE")
    degraded = sum(1 for state in states if state == "DEGRADED")
    ok, msg, errors, warnings = True, "Enough nodes are online to function.", [], []
    if offline + degraded > ERROR_FRACTION * len(states):
        ok, msg = False, "Over a third of nodes are in an error state"
        errors.append({"NODES_ERRORED": "Over a third of the nodes are offline or degraded."})
    if offline:
        warnings.append({"NODES_OFFLINE": f"{offline} nodes are offline"})
    if degraded:
        warnings.append({"NODES_DEGRADED": f"{degraded} nodes are degraded"})
    return section(ok, {"msg": msg}, errors, warnings)


def failed(cause: str) -> JSON:
    """The node model could not be read (a bug, not a cluster condition)."""
    return section(False, {"msg": "Unable to read the nodes"}, [{"UNKNOWN_ERROR": f"Error reading the nodes: {cause}"}])
