"""A task's life on its agent: executor updates, kills, acknowledgements, steering."""

from __future__ import annotations

import base64
import math

from scheduler.sim.effects import ControlError, Effects, op
from scheduler.sim.model import TERMINAL_STATES, Framework, Task, id_json
from scheduler.sim.outcomes import OutcomeError, apply_spec
from scheduler.sim.timers import RETRY, STEP


class TaskLife:
    """Updates the agents send (uuid'd, one at a time per task, re-sent until acknowledged)."""

    def _status(
        self,
        fw: Framework,
        task_id: str,
        state: str,
        source: str,
        t: float,
        *,
        agent_id: str | None = None,
        executor_id: str | None = None,
        reason: str | None = None,
        message: str | None = None,
        uuid: bytes | None = None,
        unreachable_time: float | None = None,
    ) -> dict:
        status: dict = {"task_id": id_json(task_id), "state": fw.visible_state(state), "source": source}
        if message:
            status["message"] = message
        if reason:
            status["reason"] = reason
        if agent_id:
            status["agent_id"] = id_json(agent_id)
        if executor_id:
            status["executor_id"] = id_json(executor_id)
        status["timestamp"] = t
        if uuid is not None:
            status["uuid"] = base64.b64encode(uuid).decode("ascii")
        if unreachable_time is not None:
            status["unreachable_time"] = {"nanoseconds": int(unreachable_time * 1e9)}
        return status

    @staticmethod
    def _update(status: dict) -> dict:
        return {"type": "UPDATE", "update": {"status": status}}

    def _emit_master_update(self, fw: Framework, status: dict, fx: Effects) -> None:
        if fw.connected:
            fx.emit(fw.id, self._update(status))

    def _executor_update(
        self,
        task: Task,
        state: str,
        t: float,
        fx: Effects,
        *,
        source: str = "SOURCE_EXECUTOR",
        reason: str | None = None,
        message: str | None = None,
    ) -> None:
        """A state change reported by the executor/agent: uuid'd, queued per task."""
        fw = self.frameworks[task.framework_id]
        task.state = state
        task.statuses.append((state, t))
        status = self._status(
            fw,
            task.id,
            state,
            source,
            t,
            agent_id=task.agent_id,
            executor_id=task.executor_id,
            reason=reason,
            message=message,
            uuid=self._new_uuid().bytes,
        )
        task.pending.append(status)
        if len(task.pending) == 1:
            self._send_head(task, t, fx)

    def _send_head(self, task: Task, t: float, fx: Effects, interval: float | None = None) -> None:
        """(Re)send the oldest unacknowledged update and arm its retry.

        `interval` None is a fresh forward (a new head, or the agent resuming after a
        re-subscription or a re-registration): the next re-send comes after the base
        interval; each timed-out re-send doubles it up to the maximum (Mesos'
        TaskStatusUpdateManagerProcess::forward / timeout / resume).
        """
        fw = self.frameworks[task.framework_id]
        head = task.pending[0]
        task.retry_token += 1
        if not self._cut_off(task):  # a partitioned agent's updates wait for the heal
            task.status_update_state = head["state"]
            if fw.connected:
                fx.emit(fw.id, self._update(head))
        task.retry_interval = self.config.update_retry_s if interval is None else interval
        self._arm(t + task.retry_interval, RETRY, fw.id, task.id, task.retry_token)

    def _cut_off(self, task: Task) -> bool:
        """Whether the task's agent is partitioned from the master."""
        agent = self.agents.get(task.agent_id)
        return agent is not None and agent.partitioned

    def _free_task_resources(self, task: Task) -> None:
        agent = self.agents.get(task.agent_id)
        if agent is None:
            return
        key = (task.framework_id, task.id)
        if key not in agent.tasks:
            return
        agent.tasks.discard(key)
        freed = task.resources
        if task.custom_executor:
            ex_key = (task.framework_id, task.executor_id)
            usage = agent.executors.get(ex_key)
            if usage is not None:
                usage[1] -= 1
                if usage[1] <= 0:
                    freed = freed + usage[0]
                    del agent.executors[ex_key]
        agent.task_used = agent.task_used - freed
        agent.touch()
        self._mark_offerable(agent)

    def _terminate(
        self,
        task: Task,
        state: str,
        t: float,
        fx: Effects,
        *,
        source: str,
        reason: str | None = None,
        message: str | None = None,
    ) -> None:
        task.step_gen += 1  # cancels any scheduled step
        self._executor_update(task, state, t, fx, source=source, reason=reason, message=message)
        self._free_task_resources(task)

    @op
    def kill(self, t: float, framework_id: str, task_id: str, agent_id: str | None = None) -> Effects:
        fx = Effects()
        fw = self.frameworks[framework_id]
        task = fw.tasks.get(task_id)
        if task is None:
            # Master::kill: an unknown task gets an explicit reconciliation answer.
            self._emit_master_update(fw, self._reconcile_one(fw, task_id, agent_id, t), fx)
            return fx
        if task.terminal or task.kill_requested or self._cut_off(task):
            return fx  # (a kill for a partitioned agent is lost)
        task.kill_requested = True
        task.step_gen += 1  # the task will not reach its planned end any more
        if task.state == "TASK_STAGING":
            step = "killed_during_launch"
        else:
            step = "killed"
            if "TASK_KILLING_STATE" in fw.capabilities:
                self._executor_update(task, "TASK_KILLING", t, fx)
        self._arm(t + self.config.kill_delay_s, STEP, fw.id, task.id, task.step_gen, step)
        return fx

    @op
    def acknowledge(self, t: float, framework_id: str, agent_id: str, task_id: str, uuid: bytes) -> Effects:
        fx = Effects()
        fw = self.frameworks[framework_id]
        task = fw.tasks.get(task_id)
        if task is None or not task.pending or task.agent_id != agent_id or self._cut_off(task):
            return fx  # (a partitioned agent never gets the acknowledgement)
        head = task.pending[0]
        if base64.b64decode(head["uuid"]) != uuid:
            return fx  # not the update the agent waits for: ignored
        task.pending.popleft()
        task.retry_token += 1  # cancels the retry timer of the acknowledged update
        if head["state"] in TERMINAL_STATES:
            # The terminal update is acknowledged: the master forgets the task.
            del fw.tasks[task_id]
            fw.completed_tasks.append(task)
        elif task.pending:
            self._send_head(task, t, fx)
        return fx

    # -- control --

    @op
    def end_task(self, t: float, task: Task, spec: dict) -> Effects:
        """PUT /sim/tasks/{id}: end the task now or change how long it runs."""
        fx = Effects()
        if task.terminal or task.kill_requested:
            raise ControlError(
                409, f"task {task.id} is already {task.state}" + (" (being killed)" if task.kill_requested else "")
            )
        if not isinstance(spec, dict) or not spec:
            raise ControlError(400, 'expected {"state": ..., "exit_code": ...} or {"duration": s}')
        unknown = set(spec) - {"state", "exit_code", "duration", "message", "reason"}
        if unknown:
            raise ControlError(400, f"unknown field(s): {', '.join(sorted(unknown))}")
        try:
            outcome = apply_spec(
                task.outcome,
                state=spec.get("state"),
                exit_code=spec.get("exit_code"),
                duration=spec.get("duration"),
                message=spec.get("message"),
                reason=spec.get("reason"),
            )
        except OutcomeError as exc:
            raise ControlError(400, str(exc)) from None
        task.outcome = outcome
        if "duration" not in spec:
            state, source, reason, message = outcome.final_status()
            self._terminate(task, state, t, fx, source=source, reason=reason, message=message)
        elif task.state == "TASK_RUNNING":
            task.step_gen += 1
            if math.isfinite(outcome.duration):
                self._arm(t + outcome.duration, STEP, task.framework_id, task.id, task.step_gen, "finish")
        # A task not yet RUNNING picks the new duration up when it gets there.
        return fx

    def _on_step(self, t: float, fx: Effects, framework_id: str, task_id: str, gen: int, step: str) -> None:
        fw = self.frameworks.get(framework_id)
        task = fw.tasks.get(task_id) if fw else None
        if task is None or task.step_gen != gen or task.terminal:
            return
        if step == "starting":
            self._executor_update(task, "TASK_STARTING", t, fx)
            self._arm(t + self.config.task_start_delay_s, STEP, fw.id, task.id, gen, "running")
        elif step == "running":
            self._executor_update(task, "TASK_RUNNING", t, fx)
            if math.isfinite(task.outcome.duration):
                self._arm(t + task.outcome.duration, STEP, fw.id, task.id, gen, "finish")
        elif step == "finish":
            state, source, reason, message = task.outcome.final_status()
            self._terminate(task, state, t, fx, source=source, reason=reason, message=message)
        elif step == "killed":
            self._terminate(
                task,
                "TASK_KILLED",
                t,
                fx,
                source="SOURCE_EXECUTOR",
                message="Command terminated with signal Terminated",
            )
        elif step == "killed_during_launch":
            self._terminate(
                task,
                "TASK_KILLED",
                t,
                fx,
                source="SOURCE_AGENT",
                reason="REASON_TASK_KILLED_DURING_LAUNCH",
                message="Killed before delivery to the executor",
            )

    def _on_retry(self, t: float, fx: Effects, framework_id: str, task_id: str, token: int) -> None:
        fw = self.frameworks.get(framework_id)
        task = fw.tasks.get(task_id) if fw else None
        if task is None or not task.pending or task.retry_token != token:
            return
        self._send_head(task, t, fx, min(task.retry_interval * 2, self.config.update_retry_max_s))
