"""Network partitions between the master and an agent, as Mesos 1.11 handles them.

Partitioned, the agent and its tasks go on but nothing passes: their updates wait
at the agent, acknowledgements and kills are lost. After `agent_ping_timeout_s` x
`max_agent_ping_timeouts` the master marks the agent unreachable
(`Master::markUnreachable`, "health check timed out"): each task the master
thought live gets TASK_UNREACHABLE (TASK_LOST without PARTITION_AWARE),
SOURCE_MASTER, REASON_AGENT_REMOVED, `unreachable_time`, no uuid, and every
framework a FAILURE. Healed before that, the pong cancels the transition. Healed
after, the agent re-registers (`Master::_reregisterSlave`): for every framework,
partition-aware or not, each task gets a master update with the state the agent
reports, message "Unreachable agent re-reregistered" (sic),
REASON_AGENT_REREGISTERED, no uuid; then the agent re-sends what it holds.
"""

from __future__ import annotations

from scheduler.sim.effects import ControlError, Effects, op
from scheduler.sim.model import TERMINAL_STATES, Agent, Task, id_json
from scheduler.sim.timers import UNREACHABLE


class Partitions:
    """POST /sim/agents/{id}/partition and /heal, and the unreachable timer."""

    def _agent_to_change(self, agent_id: str) -> Agent:
        agent = self.agents.get(agent_id)
        if agent is None:
            raise ControlError(404, f"no agent {agent_id!r} is registered")
        return agent

    def _tasks_on(self, agent_id: str) -> list[Task]:
        return [task for fw in self.frameworks.values() for task in fw.tasks.values() if task.agent_id == agent_id]

    @op
    def partition(self, t: float, agent_id: str) -> Effects:
        agent = self._agent_to_change(agent_id)
        if agent.partitioned:
            raise ControlError(409, f"agent {agent_id} is already partitioned")
        fx = Effects()
        agent.partitioned = True
        agent.partition_gen += 1
        # Deviation: Mesos keeps offering the agent until it is marked unreachable
        # (a launch there is lost); the simulator rescinds and stops offering at once.
        for offer_id in sorted(agent.offer_ids):
            self._rescind(self.offers[offer_id], fx)
        self._offerable.pop(agent_id, None)
        due = t + self.config.agent_ping_timeout_s * self.config.max_agent_ping_timeouts
        self._arm(due, UNREACHABLE, agent_id, agent.partition_gen)
        return fx

    def _on_unreachable(self, t: float, fx: Effects, agent_id: str, gen: int) -> None:
        agent = self.agents.get(agent_id)
        if agent is None or not agent.partitioned or agent.partition_gen != gen:
            return
        agent.unreachable_since = t
        self.unreachable_agents[agent_id] = t
        for task in self._tasks_on(agent_id):
            fw = self.frameworks[task.framework_id]
            seen = task.status_update_state or "TASK_STAGING"  # the master's view
            if seen in TERMINAL_STATES:
                continue
            task.unreachable_time = t
            self._emit_master_update(
                fw,
                self._agent_removed_status(fw, task.id, task, agent_id, t),
                fx,
            )
        for fw in self.frameworks.values():
            fw.filters.pop(agent_id, None)
            if fw.connected:
                fx.emit(fw.id, {"type": "FAILURE", "failure": {"agent_id": id_json(agent_id)}})

    @op
    def heal(self, t: float, agent_id: str) -> Effects:
        agent = self._agent_to_change(agent_id)
        if not agent.partitioned:
            raise ControlError(409, f"agent {agent_id} is not partitioned")
        fx = Effects()
        agent.partitioned = False
        agent.partition_gen += 1  # cancels the unreachable timer
        tasks = self._tasks_on(agent_id)
        if agent.unreachable_since is not None:
            agent.unreachable_since = None
            self.unreachable_agents.pop(agent_id, None)
            for task in tasks:
                fw = self.frameworks[task.framework_id]
                task.unreachable_time = None
                self._emit_master_update(
                    fw,
                    self._status(
                        fw,
                        task.id,
                        task.state,
                        "SOURCE_MASTER",
                        t,
                        agent_id=agent_id,
                        executor_id=task.executor_id if task.custom_executor else None,
                        reason="REASON_AGENT_REREGISTERED",
                        message="Unreachable agent re-reregistered",
                    ),
                    fx,
                )
        for task in tasks:
            if task.pending:
                self._send_head(task, t, fx)
        self._mark_offerable(agent)
        return fx
