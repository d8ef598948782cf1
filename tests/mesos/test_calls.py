"""The calls' JSON is the Mesos 1.11 shape, not the documentation examples' mistakes."""

import pytest

from scheduler.mesos import calls
from scheduler.mesos.events import TaskState, TaskStatus

SPEC = calls.FrameworkSpec(user="scale", name="scale", role="scale-role", hostname="h", failover_timeout_s=604800)


def test_first_subscribe_has_no_framework_id():
    call = calls.subscribe(SPEC, None)
    assert "framework_id" not in call
    info = call["subscribe"]["framework_info"]
    assert "id" not in info
    assert info["failover_timeout"] == 604800.0  # explicit: the proto default 0 kills tasks on disconnect
    assert info["checkpoint"] is True
    assert info["roles"] == ["scale-role"]
    assert {"type": "MULTI_ROLE"} in info["capabilities"]
    # Partition-aware: an unreachable agent's tasks come as TASK_UNREACHABLE (kept), not TASK_LOST.
    assert {"type": "PARTITION_AWARE"} in info["capabilities"]
    assert (info["user"], info["name"], info["hostname"]) == ("scale", "scale", "h")
    assert "force" not in call["subscribe"]  # removed from the proto


def test_resubscribe_sets_both_ids_equal():
    call = calls.subscribe(SPEC, "F-1")
    assert call["framework_id"] == {"value": "F-1"}
    assert call["subscribe"]["framework_info"]["id"] == {"value": "F-1"}


def test_accept_and_decline_shapes():
    accept = calls.accept("F", ["O1"], [{"name": "t"}], refuse_seconds=5)
    assert accept["type"] == "ACCEPT" and accept["framework_id"] == {"value": "F"}
    assert accept["accept"]["offer_ids"] == [{"value": "O1"}]
    assert accept["accept"]["operations"] == [{"type": "LAUNCH", "launch": {"task_infos": [{"name": "t"}]}}]
    assert accept["accept"]["filters"] == {"refuse_seconds": 5.0}
    decline = calls.decline("F", ["O1", "O2"], 2)
    assert decline["decline"] == {"offer_ids": [{"value": "O1"}, {"value": "O2"}], "filters": {"refuse_seconds": 2.0}}


def test_revive_uses_roles_not_role():
    assert calls.revive("F", ["a"])["revive"] == {"roles": ["a"]}
    assert "revive" not in calls.revive("F")
    assert calls.suppress("F", ["a"])["suppress"] == {"roles": ["a"]}
    assert calls.teardown("F") == {"type": "TEARDOWN", "framework_id": {"value": "F"}}


def test_acknowledge_only_with_uuid():
    status = TaskStatus("t", TaskState.RUNNING, agent_id="S", uuid="AAECAwQFBgcICQoLDA0ODw==")
    assert calls.acknowledge("F", status)["acknowledge"] == {
        "agent_id": {"value": "S"},
        "task_id": {"value": "t"},
        "uuid": "AAECAwQFBgcICQoLDA0ODw==",
    }
    with pytest.raises(ValueError):
        calls.acknowledge("F", TaskStatus("t", TaskState.RUNNING, agent_id="S"))


def test_reconcile_explicit_and_implicit():
    assert calls.reconcile("F")["reconcile"] == {"tasks": []}
    assert calls.reconcile("F", [("t1", "S1"), ("t2", None)])["reconcile"]["tasks"] == [
        {"task_id": {"value": "t1"}, "agent_id": {"value": "S1"}},
        {"task_id": {"value": "t2"}},
    ]


def test_kill_and_task_info():
    assert calls.kill("F", "t1", "S1")["kill"] == {"task_id": {"value": "t1"}, "agent_id": {"value": "S1"}}
    info = calls.task_info(
        task_id="t1",
        name="job",
        agent_id="S1",
        resources=[calls.scalar_resource("cpus", 1)],
        command="echo hi",
        image="img:1",
        environment={"A": "1"},
        labels={"k": "v"},
    )
    assert info["task_id"] == {"value": "t1"} and info["agent_id"] == {"value": "S1"}
    assert info["resources"] == [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1.0}}]
    assert info["command"]["value"] == "echo hi"
    assert info["command"]["environment"] == {"variables": [{"name": "A", "value": "1"}]}
    assert info["container"]["docker"]["image"] == "img:1"
    # The node cleanup finds exited containers by this label.
    assert {"key": "label", "value": "scale-scheduler.task_id=t1"} in info["container"]["docker"]["parameters"]
    assert info["labels"] == {"labels": [{"key": "k", "value": "v"}]}


def test_task_info_of_a_core_task_spec_copies_the_offered_resources_role():
    from scheduler.offers.offer import Resource
    from scheduler.tasks.spec import ResourceClaim, TaskSpec

    offered = Resource("cpus", "SCALAR", scalar=4.0, role="scale", raw={"role": "scale", "reservations": [1]})
    spec = TaskSpec(
        "t1", "job", "S1", (ResourceClaim("cpus", 0.5, offered), ResourceClaim("mem", 64.0)), "run", labels={"k": "v"}
    )
    info = calls.task_info_of(spec)
    assert info == calls.task_info(
        task_id="t1",
        name="job",
        agent_id="S1",
        resources=[calls.scalar_resource("cpus", 0.5, offered), calls.scalar_resource("mem", 64.0)],
        command="run",
        labels={"k": "v"},
    )
    assert info["resources"][0] == {
        "name": "cpus",
        "type": "SCALAR",
        "scalar": {"value": 0.5},
        "role": "scale",
        "reservations": [1],
    }
