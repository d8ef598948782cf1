"""Node states, in Scale's priority order, with its exact titles and descriptions."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NodeState:
    name: str
    title: str
    description: str

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "title": self.title, "description": self.description}


DEPRECATED = NodeState(
    "DEPRECATED",
    "Deprecated",
    "Node is deprecated and will not be used by Scale. Existing jobs on the node will be failed.",
)
OFFLINE = NodeState("OFFLINE", "Offline", "Node is offline/unavailable, so no jobs can currently run on it.")
PAUSED = NodeState(
    "PAUSED", "Paused", "Node is paused, so no new jobs will be scheduled. Existing jobs will continue to run."
)
SCHEDULER_STOPPED = NodeState(
    "SCHEDULER_STOPPED",
    "Scheduler Stopped",
    "Scheduler is paused, so no new jobs will be scheduled. Existing jobs will continue to run.",
)
DEGRADED = NodeState(
    "DEGRADED",
    "Degraded",
    "Node has an error condition, putting it in a degraded state. New jobs will not be scheduled, and the node "
    "will attempt to continue to run existing jobs.",
)
INITIAL_CLEANUP = NodeState(
    "INITIAL_CLEANUP",
    "Cleaning up",
    "Node is performing an initial cleanup step to remove existing Scale Docker containers and volumes.",
)
IMAGE_PULL = NodeState("IMAGE_PULL", "Pulling image", "Node is pulling the Scale Docker image.")
READY = NodeState("READY", "Ready", "Node is ready to run new jobs.")

PRIORITY = (DEPRECATED, OFFLINE, PAUSED, SCHEDULER_STOPPED, DEGRADED, INITIAL_CLEANUP, IMAGE_PULL, READY)
