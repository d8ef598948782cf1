"""What the core waits for on the scheduling clock, about tasks it already launched:

- tries on an unreachable agent (TASK_UNREACHABLE, we are PARTITION_AWARE): kept as they are, not
  rerun, until ``unreachable_timeout_s``; a task that comes back (RUNNING) simply continues;
- tries whose FAILED end came from the master without its exit status: their category waits for
  the agent's own update, at most ``outcome_wait_s``, then it is UNKNOWN;
- kills: sent again, with a growing delay, until the task reaches a final state (a kill made while
  the master is away or failing over, or to an unreachable agent, is simply lost).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from scheduler.tasks.registry import Task

UNREACHABLE_TIMEOUT_S = 900.0
OUTCOME_WAIT_S = 900.0  # the agent re-sends after 10 s, doubling up to 10 min
KILL_RETRY_S = 5.0
KILL_RETRY_MAX_S = 120.0


@dataclass(slots=True)
class AwaitedOutcome:
    task: Task  # no longer tracked as a live task: Mesos says it ended
    since: float  # when the master first said it ended


class TaskWatch:
    def __init__(
        self,
        *,
        unreachable_timeout_s: float = UNREACHABLE_TIMEOUT_S,
        outcome_wait_s: float = OUTCOME_WAIT_S,
        kill_retry_s: float = KILL_RETRY_S,
        kill_retry_max_s: float = KILL_RETRY_MAX_S,
    ) -> None:
        self.unreachable_timeout_s = unreachable_timeout_s
        self.outcome_wait_s = outcome_wait_s
        self.kill_retry_s = kill_retry_s
        self.kill_retry_max_s = kill_retry_max_s
        self.unreachable: dict[str, tuple[str | None, float]] = {}  # task id -> (agent id, since)
        self.unreachable_nodes: set[str] = set()  # hostnames showing AGENT_UNREACHABLE
        self.awaiting: dict[str, AwaitedOutcome] = {}  # task id -> the try whose exit status is awaited
        self._kills: dict[str, tuple[str | None, float, int]] = {}  # task id -> (agent, send again at, sends)

    # --- unreachable tasks ---

    def became_unreachable(self, task_id: str, agent_id: str | None, now: float) -> bool:
        """True the first time (a repeated TASK_UNREACHABLE keeps the first time)."""
        if task_id in self.unreachable:
            return False
        self.unreachable[task_id] = (agent_id, now)
        return True

    def reachable(self, task_id: str) -> bool:
        return self.unreachable.pop(task_id, None) is not None

    def unreachable_expired(self, now: float) -> list[str]:
        expired = [t for t, (_, since) in self.unreachable.items() if now - since >= self.unreachable_timeout_s]
        for task_id in expired:
            del self.unreachable[task_id]
        return expired

    def unreachable_agents(self) -> dict[str, int]:
        """Agent id -> how many of our tasks on it are unreachable."""
        counts: dict[str, int] = {}
        for agent_id, _ in self.unreachable.values():
            if agent_id:
                counts[agent_id] = counts.get(agent_id, 0) + 1
        return counts

    # --- outcomes awaiting the agent's update ---

    def await_outcome(self, task: Task, now: float) -> None:
        self.awaiting.setdefault(task.task_id, AwaitedOutcome(task, now))

    def outcome_expired(self, now: float) -> list[AwaitedOutcome]:
        expired = [a for a in self.awaiting.values() if now - a.since >= self.outcome_wait_s]
        for awaited in expired:
            del self.awaiting[awaited.task.task_id]
        return expired

    # --- kills ---

    def killing(self, pairs: Iterable[tuple[str, str | None]], now: float) -> None:
        """Kills just sent: each is sent again until ``kill_done`` (a kill already watched keeps its delay)."""
        for task_id, agent_id in pairs:
            if task_id not in self._kills:
                self._kills[task_id] = (agent_id, now + self.kill_retry_s, 1)

    def is_killing(self, task_id: str) -> bool:
        return task_id in self._kills

    def kill_done(self, task_id: str) -> None:
        self._kills.pop(task_id, None)

    def kills_due(self, now: float) -> list[tuple[str, str | None]]:
        due = []
        for task_id, (agent_id, at, sends) in list(self._kills.items()):
            if now >= at:
                delay = min(self.kill_retry_s * 2**sends, self.kill_retry_max_s)
                self._kills[task_id] = (agent_id, now + delay, sends + 1)
                due.append((task_id, agent_id))
        return due

    @property
    def kills_pending(self) -> int:
        return len(self._kills)
