"""RECONCILE, implicit and explicit, with the answers of Master::reconcile."""

from __future__ import annotations

from scheduler.sim.effects import Effects, op
from scheduler.sim.model import Framework, Task


class Reconciler:
    """Master-generated reconciliation statuses (no uuid)."""

    def _reconcile_one(self, fw: Framework, task_id: str, agent_id: str | None, t: float) -> dict:
        """Master::reconcile, explicit case, for one task."""
        task = fw.tasks.get(task_id)
        if task is not None and task.unreachable_time is not None:  # its agent is partitioned away
            return self._unreachable_status(fw, task, t)
        if task is not None:
            return self._latest_status(fw, task, t)
        task = fw.unreachable.get(task_id)
        if task is not None:
            return self._unreachable_status(fw, task, t)
        if agent_id is not None and agent_id in self.agents:
            return self._status(
                fw,
                task_id,
                "TASK_GONE",
                "SOURCE_MASTER",
                t,
                agent_id=agent_id,
                reason="REASON_RECONCILIATION",
                message="Reconciliation: Task is unknown to the agent",
            )
        if agent_id is not None and agent_id in self.unreachable_agents:
            return self._status(
                fw,
                task_id,
                "TASK_UNREACHABLE",
                "SOURCE_MASTER",
                t,
                agent_id=agent_id,
                reason="REASON_RECONCILIATION",
                message="Reconciliation: Task is unreachable",
                unreachable_time=self.unreachable_agents[agent_id],
            )
        return self._status(
            fw,
            task_id,
            "TASK_UNKNOWN",
            "SOURCE_MASTER",
            t,
            agent_id=agent_id,
            reason="REASON_RECONCILIATION",
            message="Reconciliation: Task is unknown",
        )

    def _latest_status(self, fw: Framework, task: Task, t: float) -> dict:
        return self._status(
            fw,
            task.id,
            task.status_update_state or task.state,
            "SOURCE_MASTER",
            t,
            agent_id=task.agent_id,
            executor_id=task.executor_id if task.custom_executor else None,
            reason="REASON_RECONCILIATION",
            message="Reconciliation: Latest task state",
        )

    def _unreachable_status(self, fw: Framework, task: Task, t: float) -> dict:
        return self._status(
            fw,
            task.id,
            "TASK_UNREACHABLE",
            "SOURCE_MASTER",
            t,
            agent_id=task.agent_id,
            executor_id=task.executor_id if task.custom_executor else None,
            reason="REASON_RECONCILIATION",
            message="Reconciliation: Task is unreachable",
            unreachable_time=task.unreachable_time,
        )

    @op
    def reconcile(self, t: float, framework_id: str, tasks: list[dict]) -> Effects:
        fx = Effects()
        fw = self.frameworks[framework_id]
        if not tasks:
            statuses = [
                self._unreachable_status(fw, task, t)
                if task.unreachable_time is not None
                else self._latest_status(fw, task, t)
                for task in fw.tasks.values()
            ]
            statuses += [self._unreachable_status(fw, task, t) for task in fw.unreachable.values()]
        else:
            statuses = [
                self._reconcile_one(fw, item["task_id"]["value"], item.get("agent_id", {}).get("value"), t)
                for item in tasks
            ]
        for status in statuses:
            self._emit_master_update(fw, status, fx)
        return fx
