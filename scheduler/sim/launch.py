"""ACCEPT: offer validation, task validation and launching tasks and task groups."""

from __future__ import annotations

from collections.abc import Iterable

from scheduler.sim.effects import Effects, op
from scheduler.sim.model import Agent, Framework, Task, refuse_seconds, validate_id
from scheduler.sim.outcomes import Outcome, OutcomeError
from scheduler.sim.resources import EMPTY, ResourceProblem, Resources, from_protobuf_list
from scheduler.sim.timers import STEP


class Launcher:
    """Master::accept with validation::offer and validation::task, in Mesos' order."""

    @op
    def accept(self, t: float, framework_id: str, accept: dict) -> Effects:
        fx = Effects()
        fw = self.frameworks[framework_id]
        offer_ids = [o["value"] for o in accept.get("offer_ids", [])]
        operations = accept.get("operations", [])
        error = self._validate_offers(fw, offer_ids) if offer_ids else "No offers specified"
        if error is not None:
            for offer_id in offer_ids:
                offer = self.offers.get(offer_id)
                if offer is not None and offer.framework_id == fw.id:
                    self._remove_offer(offer)
            state = "TASK_DROPPED" if fw.partition_aware else "TASK_LOST"
            for task_info in self._launch_tasks(operations):
                self._emit_master_update(
                    fw,
                    self._status(
                        fw,
                        task_info["task_id"]["value"],
                        state,
                        "SOURCE_MASTER",
                        t,
                        agent_id=task_info["agent_id"]["value"],
                        reason="REASON_INVALID_OFFERS",
                        message=f"Task launched with invalid offers: {error}",
                    ),
                    fx,
                )
            return fx

        offers = [self.offers[o] for o in offer_ids]
        agent = self.agents[offers[0].agent_id]
        role = offers[0].role
        pool = EMPTY
        for offer in offers:
            pool = pool + offer.resources
            self._remove_offer(offer)
        box = [pool]  # what is left of the offered resources
        for operation in operations:
            kind = operation.get("type")
            if kind == "LAUNCH":
                for task_info in operation.get("launch", {}).get("task_infos", []):
                    self._launch(fw, agent, role, task_info, box, t, fx)
            elif kind == "LAUNCH_GROUP" and "launch_group" in operation:
                self._launch_group(fw, agent, role, operation["launch_group"], box, t, fx)
            # Other operations (reservations, volumes) are not simulated.
        # Unused resources count as declined with the ACCEPT's filter.
        self._add_filter(fw, agent.id, box[0], refuse_seconds(accept.get("filters")), t)
        self._mark_offerable(agent)
        return fx

    @staticmethod
    def _launch_tasks(operations: list[dict]) -> Iterable[dict]:
        for operation in operations:
            if operation.get("type") == "LAUNCH":
                yield from operation.get("launch", {}).get("task_infos", [])
            elif operation.get("type") == "LAUNCH_GROUP":
                yield from operation.get("launch_group", {}).get("task_group", {}).get("tasks", [])

    def _validate_offers(self, fw: Framework, offer_ids: list[str]) -> str | None:
        """validation::offer::validate, in Mesos' order."""
        seen = set()
        for offer_id in offer_ids:
            if offer_id in seen:
                return f"Duplicate offer {offer_id} in offer list"
            seen.add(offer_id)
        for offer_id in offer_ids:
            if offer_id not in self.offers:
                return f"Offer {offer_id} is no longer valid"
        for offer_id in offer_ids:
            offer = self.offers[offer_id]
            if offer.framework_id != fw.id:
                return (
                    f"Offer {offer_id} has invalid framework {offer.framework_id} while framework {fw.id} is expected"
                )
        first = self.offers[offer_ids[0]]
        for offer_id in offer_ids[1:]:
            offer = self.offers[offer_id]
            if offer.role != first.role:
                return (
                    f"Aggregated offers must be allocated to the same role. Offer {offer_id} "
                    f"uses role {offer.role} and offer {first.id} uses role {first.role}"
                )
        for offer_id in offer_ids[1:]:
            offer = self.offers[offer_id]
            if offer.agent_id != first.agent_id:
                return (
                    f"Aggregated offers must belong to one single agent. Offer {offer_id} "
                    f"uses agent {offer.agent_id} and offer {first.id} uses agent "
                    f"{first.agent_id}"
                )
        return None

    def _task_error(self, fw: Framework, task_info: dict, message: str, t: float, fx: Effects) -> None:
        self._emit_master_update(
            fw,
            self._status(
                fw,
                task_info["task_id"]["value"],
                "TASK_ERROR",
                "SOURCE_MASTER",
                t,
                agent_id=task_info["agent_id"]["value"],
                reason="REASON_TASK_INVALID",
                message=message,
            ),
            fx,
        )

    def _validate_task(
        self, fw: Framework, agent: Agent, task_info: dict, siblings: set[str] = frozenset()
    ) -> tuple[str | None, Resources, list[str]]:
        """validation::task::internal::validateTask; returns (error, resources, foreign)."""
        task_id = task_info["task_id"]["value"]
        error = validate_id(task_id)
        if error:
            return error, EMPTY, []
        if task_id in fw.tasks or task_id in siblings:
            return f"Task has duplicate ID: {task_id}", EMPTY, []
        if task_id in fw.unreachable:
            return f"Task reuses the ID of an unreachable task: {task_id}", EMPTY, []
        agent_id = task_info["agent_id"]["value"]
        if agent_id != agent.id:
            return f"Task uses invalid agent {agent_id} while agent {agent.id} is expected", EMPTY, []
        grace = task_info.get("kill_policy", {}).get("grace_period", {}).get("nanoseconds", 0)
        if grace < 0:
            return "Task's 'kill_policy.grace_period' must be non-negative", EMPTY, []
        if task_info.get("max_completion_time", {}).get("nanoseconds", 0) < 0:
            return "Task's `max_completion_time` must be non-negative", EMPTY, []
        if not task_info.get("resources"):
            return "Task uses no resources", EMPTY, []
        try:
            resources, foreign = from_protobuf_list(task_info["resources"])
        except ResourceProblem as exc:
            return f"Task uses invalid resources: {exc}", EMPTY, []
        return None, resources, foreign

    def _executor_resources(self, fw: Framework, executor: dict) -> tuple[str | None, Resources, list[str]]:
        if "framework_id" in executor and executor["framework_id"]["value"] != fw.id:
            return (
                (
                    f"ExecutorInfo has an invalid FrameworkID (Actual: "
                    f"{executor['framework_id']['value']} vs Expected: {fw.id})"
                ),
                EMPTY,
                [],
            )
        try:
            resources, foreign = from_protobuf_list(executor.get("resources", []))
        except ResourceProblem as exc:
            return f"Executor uses invalid resources: {exc}", EMPTY, []
        return None, resources, foreign

    @staticmethod
    def _describe(resources: Resources, foreign: list[str], role: str) -> str:
        text = resources.describe(role)
        if foreign:
            text = "; ".join([t for t in [text] if t] + foreign)
        return text

    def _plan(self, task_info: dict) -> tuple[Outcome | None, str | None]:
        try:
            return self.outcomes.plan(task_info), None
        except OutcomeError as exc:
            return None, f"Simulator: {exc}"

    def _launch(
        self, fw: Framework, agent: Agent, role: str, task_info: dict, box: list, t: float, fx: Effects
    ) -> None:
        error, resources, foreign = self._validate_task(fw, agent, task_info)
        executor = task_info.get("executor")
        if error is None and (executor is None) == ("command" not in task_info):
            error = "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present"
        total, executor_id, new_executor = resources, task_info["task_id"]["value"], None
        if error is None and executor is not None:
            if executor.get("type", "CUSTOM") != "CUSTOM":
                error = "'ExecutorInfo.type' must be 'CUSTOM'"
            elif "command" not in executor:
                error = "'ExecutorInfo.command' must be set"
            else:
                error, ex_resources, ex_foreign = self._executor_resources(fw, executor)
                executor_id = executor["executor_id"]["value"]
                if (fw.id, executor_id) not in agent.executors:
                    new_executor = ex_resources
                    total = total + ex_resources
                    foreign = foreign + ex_foreign
        if error is None and (foreign or not box[0].contains(total)):
            error = (
                f"Total resources {self._describe(total, foreign, role)} required by task "
                f"and its executor is more than available {box[0].describe(role)}"
            )
        outcome = None
        if error is None:
            outcome, error = self._plan(task_info)
        if error is not None:
            self._task_error(fw, task_info, error, t, fx)
            return
        box[0] = box[0] - total
        self._start_task(
            fw, agent, role, task_info, executor_id, executor is not None, resources, new_executor, outcome, t
        )

    def _launch_group(
        self, fw: Framework, agent: Agent, role: str, group: dict, box: list, t: float, fx: Effects
    ) -> None:
        executor = group["executor"]
        tasks = group["task_group"].get("tasks", [])
        error = None
        if executor.get("type") != "DEFAULT":
            error = "'ExecutorInfo.type' must be 'DEFAULT'"
        ex_error, ex_resources, foreign = self._executor_resources(fw, executor)
        error = error or ex_error
        executor_id = executor["executor_id"]["value"]
        new_executor = None if (fw.id, executor_id) in agent.executors else ex_resources
        total = new_executor or EMPTY
        plans: list[tuple[dict, Resources, Outcome]] = []
        seen: set[str] = set()
        for task_info in tasks:
            if error is not None:
                break
            task_error, resources, task_foreign = self._validate_task(fw, agent, task_info, seen)
            seen.add(task_info["task_id"]["value"])
            if task_error is None and task_info.get("container", {}).get("type") == "DOCKER":
                task_error = "Docker ContainerInfo is not supported on the task"
            outcome = None
            if task_error is None:
                outcome, task_error = self._plan(task_info)
            error = task_error
            total = total + resources
            foreign = foreign + task_foreign
            plans.append((task_info, resources, outcome))
        if error is None and (foreign or not box[0].contains(total)):
            error = (
                f"Total resources {self._describe(total, foreign, role)} required by task "
                f"group and its executor are more than available {box[0].describe(role)}"
            )
        if error is not None:
            for task_info in tasks:
                self._task_error(fw, task_info, error, t, fx)
            return
        box[0] = box[0] - total
        for task_info, resources, outcome in plans:
            self._start_task(fw, agent, role, task_info, executor_id, True, resources, new_executor, outcome, t)
            new_executor = None

    def _start_task(
        self,
        fw: Framework,
        agent: Agent,
        role: str,
        task_info: dict,
        executor_id: str,
        custom_executor: bool,
        resources: Resources,
        new_executor: Resources | None,
        outcome: Outcome,
        t: float,
    ) -> None:
        task = Task(fw.id, agent.id, task_info, executor_id, custom_executor, resources, role, outcome, t)
        task.statuses.append((task.state, t))
        fw.tasks[task.id] = task
        agent.tasks.add((fw.id, task.id))
        used = resources
        if custom_executor:
            key = (fw.id, executor_id)
            if key not in agent.executors:
                agent.executors[key] = [new_executor or EMPTY, 0]
                used = used + (new_executor or EMPTY)
            agent.executors[key][1] += 1
        agent.task_used = agent.task_used + used
        agent.touch()
        self._arm(t + self.config.task_start_delay_s, STEP, fw.id, task.id, task.step_gen, "starting")
