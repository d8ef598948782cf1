"""Agents joining, getting lost, and their resources used outside the simulation."""

from __future__ import annotations

from scheduler.sim.effects import ControlError, Effects, op
from scheduler.sim.model import Agent, id_json
from scheduler.sim.options import parse_port_ranges
from scheduler.sim.resources import Resources


class AgentOps:
    """Adds, loses and loads agents."""

    def _add_agent(
        self,
        t: float,
        *,
        cpus=None,
        mem=None,
        disk=None,
        gpus=None,
        ports=None,
        hostname: str | None = None,
        attributes: dict | None = None,
    ) -> Agent:
        cfg = self.config
        seq = next(self._agent_seq)
        if hostname is None:
            while True:
                hostname = f"{cfg.hostname_prefix}{next(self._hostname_seq)}"
                if hostname not in self._hostnames:
                    break
        agent_id = f"{self.master_id}-S{seq}"
        n = seq + 1
        ip = f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"
        total = Resources(
            cpus=cfg.agent_cpus if cpus is None else cpus,
            mem=cfg.agent_mem if mem is None else mem,
            disk=cfg.agent_disk if disk is None else disk,
            gpus=cfg.agent_gpus if gpus is None else gpus,
            ports=parse_port_ranges(cfg.agent_ports if ports is None else ports),
        )
        agent = Agent(agent_id, seq, hostname, ip, t, total, dict(attributes or {}))
        self.agents[agent_id] = agent
        self._hostnames[hostname] = agent_id
        self._mark_offerable(agent)
        return agent

    def add_agents(self, t: float, count: int = 1, *, hostname: str | None = None, **kwargs) -> list[Agent]:
        if hostname is not None:
            if count != 1:
                raise ControlError(400, "hostname can only be given with count 1")
            if hostname in self._hostnames:
                raise ControlError(
                    409, f"hostname {hostname!r} is registered as agent {self._hostnames[hostname]}; DELETE it first"
                )
        return [self._add_agent(t, hostname=hostname, **kwargs) for _ in range(count)]

    @op
    def remove_agent(self, t: float, agent_id: str) -> Effects:
        """The agent is lost (health checks time out): Mesos marks it unreachable."""
        agent = self.agents.get(agent_id)
        if agent is None:
            raise ControlError(404, f"no agent {agent_id!r} is registered")
        fx = Effects()
        for offer_id in sorted(agent.offer_ids):
            self._rescind(self.offers[offer_id], fx)
        for fid, tid in sorted(agent.tasks):
            fw = self.frameworks.get(fid)
            task = fw.tasks.get(tid) if fw else None
            if task is None:
                continue
            # master.cpp __removeSlave: TASK_UNREACHABLE (TASK_LOST unless
            # PARTITION_AWARE), SOURCE_MASTER, REASON_SLAVE_REMOVED (v1 name
            # REASON_AGENT_REMOVED), with unreachable_time and no uuid.
            task.step_gen += 1
            task.state = "TASK_UNREACHABLE"
            task.statuses.append((task.state, t))
            task.unreachable_time = t
            task.pending.clear()
            del fw.tasks[tid]
            fw.unreachable[tid] = task
            self._emit_master_update(
                fw,
                self._status(
                    fw,
                    tid,
                    "TASK_UNREACHABLE",
                    "SOURCE_MASTER",
                    t,
                    agent_id=agent_id,
                    executor_id=task.executor_id if task.custom_executor else None,
                    reason="REASON_AGENT_REMOVED",
                    message="health check timed out",
                    unreachable_time=t,
                ),
                fx,
            )
        # Terminal tasks still waiting for an acknowledgement lose their agent too.
        for fw in self.frameworks.values():
            for task in list(fw.tasks.values()):
                if task.agent_id == agent_id:
                    task.pending.clear()
                    del fw.tasks[task.id]
                    fw.completed_tasks.append(task)
        for fw in self.frameworks.values():
            fw.filters.pop(agent_id, None)
            if fw.connected:
                fx.emit(fw.id, {"type": "FAILURE", "failure": {"agent_id": id_json(agent_id)}})
        del self.agents[agent_id]
        self._offerable.pop(agent_id, None)
        if self._hostnames.get(agent.hostname) == agent_id:
            del self._hostnames[agent.hostname]
        self.unreachable_agents[agent_id] = t
        return fx

    @op
    def set_usage(self, t: float, agent_id: str, usage: Resources) -> Effects:
        """Resources used on the agent by frameworks outside the simulation."""
        agent = self.agents.get(agent_id)
        if agent is None:
            raise ControlError(404, f"no agent {agent_id!r} is registered")
        fx = Effects()
        agent.other_used = usage
        agent.touch()
        # Rescind the newest offers until the outstanding ones fit again.
        capacity = agent.total - (agent.other_used + agent.task_used)
        for offer_id in sorted(agent.offer_ids, key=lambda o: self.offers[o].created, reverse=True):
            if capacity.contains(agent.offered):
                break
            self._rescind(self.offers[offer_id], fx)
        self._mark_offerable(agent)
        return fx
