"""Job types as the scheduler uses them, and how a failed execution's exit code is categorised."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ErrorCategory(StrEnum):
    SYSTEM = "SYSTEM"  # the platform failed: lost task, agent gone, launch refused; retried
    DATA = "DATA"  # the job's input was bad, by the job type's own exit-code mapping
    ALGORITHM = "ALGORITHM"  # the job's code failed; any non-zero exit code not mapped to DATA
    # FAILED, but its exit status never arrived (only a reconciliation answer did): not a guess
    UNKNOWN = "UNKNOWN"


class JobStatus(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"


class ExeStatus(StrEnum):
    RUNNING = "RUNNING"  # launched; Mesos may still be staging it
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"


RESOURCE_NAMES = ("cpus", "mem", "disk", "gpus")


@dataclass(frozen=True, slots=True)
class JobType:
    name: str
    version: str
    command: str
    cpus: float = 1.0
    mem: float = 128.0  # MiB, as Mesos counts it
    disk: float = 0.0  # MiB
    gpus: float = 0.0
    title: str = ""
    description: str = ""
    is_system: bool = False
    icon_code: str = ""
    image: str | None = None
    max_tries: int = 3
    error_mapping: dict[int, ErrorCategory] = field(default_factory=dict, compare=False)
    id: int | None = None

    @property
    def resources(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in RESOURCE_NAMES if getattr(self, name) > 0}

    def category_for_exit(self, exit_code: int | None) -> ErrorCategory:
        """A failed execution's category: the mapping's, else ALGORITHM (Scale's default)."""
        if exit_code is None:
            return ErrorCategory.ALGORITHM
        return self.error_mapping.get(exit_code, ErrorCategory.ALGORITHM)

    def status_json(self) -> dict[str, Any]:
        """The fields the v6 status lists for a job type."""
        return {
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "title": self.title,
            "description": self.description,
            "is_system": self.is_system,
            "icon_code": self.icon_code,
        }
