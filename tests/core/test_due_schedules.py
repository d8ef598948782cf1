"""What each pass checks (tasks to reconcile, tasks stuck STAGING, node tasks past their timeout)
costs what is due, not every task or node: the reconciler's schedule, the registry's STAGING set,
the node tasks' next timeout."""

from __future__ import annotations

from scheduler.core.reconciler import FIRST_RETRY_S, Reconciler
from scheduler.nodes.node import Node
from scheduler.scheduling.node_tasks import HEALTH_CHECK, TASK_TIMEOUT_S, NodeTaskManager
from scheduler.tasks.registry import Task, TaskKind, TaskRegistry
from scheduler.tasks.status import TaskState, TaskStatus


class CountingDict(dict):
    """``awaiting`` that counts how often a pass walks it."""

    walks = 0

    def items(self):
        CountingDict.walks += 1
        return super().items()


def test_tasks_are_asked_again_with_a_growing_delay_and_nothing_is_walked_before_one_is_due():
    reconciler = Reconciler()
    reconciler.awaiting = CountingDict()
    calls = reconciler.start([(f"t{i}", "a") for i in range(2500)], 0.0, implicit=False)
    assert [len(batch) for batch in calls] == [1000, 1000, 500]
    for now in (1.0, 5.0, FIRST_RETRY_S - 0.1):
        assert reconciler.due(now) == []
    assert CountingDict.walks == 0  # none was due: the 2,500 were not looked through
    reconciler.heard("t0")
    again = reconciler.due(FIRST_RETRY_S)
    assert sum(len(batch) for batch in again) == 2499 and CountingDict.walks == 1
    assert reconciler.due(FIRST_RETRY_S + 1) == [] and CountingDict.walks == 1  # next: 2 x 10 s later
    assert sum(len(b) for b in reconciler.due(FIRST_RETRY_S + 2 * FIRST_RETRY_S)) == 2499
    for i in range(1, 2500):
        reconciler.heard(f"t{i}")
    assert reconciler.due(10_000.0) == []


def test_a_task_asked_for_later_is_due_on_its_own_time():
    reconciler = Reconciler()
    reconciler.start([("early", "a")], 0.0, implicit=False)
    assert reconciler.due(5.0) == []
    reconciler.start([("late", "a")], 5.0, implicit=False)
    assert reconciler.due(FIRST_RETRY_S) == [[("early", "a")]]
    assert reconciler.due(5.0 + FIRST_RETRY_S) == [[("late", "a")]]


def test_the_registry_keeps_the_tasks_still_staging_apart():
    registry = TaskRegistry()
    for i in range(5):
        registry.add(Task(f"t{i}", "a", TaskKind.JOB, "work", {"cpus": 10}, launched_at=float(i)))
    registry.on_update(TaskStatus("t0", TaskState.STARTING), 10.0)
    registry.on_update(TaskStatus("t1", TaskState.RUNNING), 10.0)
    registry.on_update(TaskStatus("t2", TaskState.FINISHED), 10.0)
    registry.remove("t3")
    assert list(registry.staging) == ["t4"]
    assert registry.staging_since(4.0) == [] and [t.task_id for t in registry.staging_since(4.5)] == ["t4"]
    registry.on_update(TaskStatus("t4", TaskState.STAGING), 11.0)  # a reconciliation's answer: still staging
    assert list(registry.staging) == ["t4"]


def test_node_tasks_past_their_timeout_are_found_and_nothing_is_walked_before():
    manager = NodeTaskManager()
    nodes = [Node(f"h{i}", 0.0, node_id=i, agent_id=f"S{i}") for i in range(3)]
    manager.launched(nodes[0], HEALTH_CHECK, "health-0", 0.0)
    manager.launched(nodes[1], HEALTH_CHECK, "health-1", 100.0)
    walks = []
    manager._work = WalkCountingDict(manager._work, walks)
    assert manager.timed_out(TASK_TIMEOUT_S - 1) == [] and walks == []  # none can be due yet
    assert manager.timed_out(TASK_TIMEOUT_S) == ["health-0"] and len(walks) == 1
    manager.on_timeout(nodes[0], HEALTH_CHECK, "health-0", TASK_TIMEOUT_S)
    assert manager.timed_out(TASK_TIMEOUT_S + 1) == []
    assert manager.timed_out(TASK_TIMEOUT_S + 50) == [] and len(walks) == 2  # the next is due at 1,000 s
    assert manager.timed_out(TASK_TIMEOUT_S + 100) == ["health-1"]


class WalkCountingDict(dict):
    def __init__(self, data, walks) -> None:
        super().__init__(data)
        self.walks = walks

    def values(self):
        self.walks.append(1)
        return super().values()
