"""ACCEPT/LAUNCH, status updates and acknowledgements, KILL, reconciliation, outcomes."""

from __future__ import annotations

import asyncio
import base64

from simkit import framework_info, scalar, task_info

PA = framework_info(capabilities=[{"type": "PARTITION_AWARE"}])


async def _offers(sub, timeout=2.0):
    return (await sub.expect("OFFERS", timeout))["offers"]["offers"]


async def _launch(client, sub, offer, *tasks, refuse_seconds=None):
    await client.accept(sub, [offer["id"]["value"]], list(tasks), refuse_seconds=refuse_seconds)


async def _run_to_running(client, sub, offer, task_id, **kw) -> dict:
    """Launch and acknowledge STARTING; returns the (acknowledged) RUNNING status."""
    await _launch(client, sub, offer, task_info(offer, task_id, **kw))
    starting = (await sub.updates(1, task_id=task_id))[0]
    assert starting["state"] == "TASK_STARTING"
    await client.ack(sub, starting)
    running = (await sub.updates(1, task_id=task_id))[0]
    assert running["state"] == "TASK_RUNNING"
    await client.ack(sub, running)
    return running


def _no_uuid_master_status(status, state, reason):
    assert status["state"] == state, status
    assert status["source"] == "SOURCE_MASTER"
    assert status["reason"] == reason
    assert "uuid" not in status


async def test_update_sequence_waits_for_acknowledgements(sim):
    handle, client = sim
    sub = await client.subscribe()
    offer = (await _offers(sub))[0]
    await _launch(client, sub, offer, task_info(offer, "t1", labels={"sim.duration": 0.5}))
    starting = (await sub.updates(1))[0]
    assert starting["state"] == "TASK_STARTING"
    assert starting["source"] == "SOURCE_EXECUTOR"
    assert starting["task_id"] == {"value": "t1"}
    assert starting["agent_id"] == offer["agent_id"]
    assert starting["executor_id"] == {"value": "t1"}
    assert isinstance(starting["timestamp"], float)
    assert len(base64.b64decode(starting["uuid"])) == 16

    # Not acknowledged: the same update comes again after update_retry_s (0.3 s),
    # and TASK_RUNNING is held back although the task is running.
    resent = (await sub.updates(1, timeout=1.0))[0]
    assert resent == starting
    assert handle.state.frameworks[sub.framework_id].tasks["t1"].state == "TASK_RUNNING"

    await client.ack(sub, starting)
    running = (await sub.updates(1, timeout=0.3))[0]
    assert running["state"] == "TASK_RUNNING"
    assert running["uuid"] != starting["uuid"]

    # Then the task finishes (sim.duration 0.5): resources are free at once,
    # even though TASK_FINISHED is not delivered before RUNNING is acknowledged.
    await asyncio.sleep(0.4)
    assert handle.state.frameworks[sub.framework_id].tasks["t1"].state == "TASK_FINISHED"
    _, slaves = await client.get_json("/master/slaves")
    agent = [s for s in slaves["slaves"] if s["id"] == offer["agent_id"]["value"]][0]
    assert agent["used_resources"]["cpus"] == 0.0
    assert await sub.quiet(0.1, types=("UPDATE",)) in ([], [{"type": "UPDATE", "update": {"status": running}}])

    await client.ack(sub, running)
    finished = await sub.expect("UPDATE", 1.0, lambda e: e["update"]["status"]["state"] != "TASK_RUNNING")
    finished = finished["update"]["status"]
    assert finished["state"] == "TASK_FINISHED"
    assert finished["message"] == "Command exited with status 0"
    assert "t1" in handle.state.frameworks[sub.framework_id].tasks  # until acknowledged
    await client.ack(sub, finished)
    await asyncio.sleep(0.05)
    assert "t1" not in handle.state.frameworks[sub.framework_id].tasks
    _, state = await client.get_json("/master/state")
    fw = state["frameworks"][0]
    assert fw["tasks"] == []
    assert [t["id"] for t in fw["completed_tasks"]] == ["t1"]
    assert [s["state"] for s in fw["completed_tasks"][0]["statuses"]] == [
        "TASK_STAGING",
        "TASK_STARTING",
        "TASK_RUNNING",
        "TASK_FINISHED",
    ]


async def test_wrong_uuid_acknowledgement_is_ignored(sim):
    _, client = sim
    sub = await client.subscribe()
    offer = (await _offers(sub))[0]
    await _launch(client, sub, offer, task_info(offer, "t1"))
    starting = (await sub.updates(1))[0]
    wrong = dict(starting, uuid=base64.b64encode(bytes(range(16))[:6] + b"\x40" + bytes(9)).decode())
    await client.ack(sub, wrong)
    again = (await sub.updates(1, timeout=1.0))[0]
    assert again["state"] == "TASK_STARTING"


async def test_invalid_offer_ids_lose_tasks_without_uuid(sim):
    _, client = sim
    sub = await client.subscribe()
    offers = await _offers(sub)
    await client.accept(sub, ["no-such-offer"], [task_info(offers[0], "t1")])
    status = (await sub.updates(1))[0]
    _no_uuid_master_status(status, "TASK_LOST", "REASON_INVALID_OFFERS")
    assert status["message"] == "Task launched with invalid offers: Offer no-such-offer is no longer valid"
    assert status["agent_id"] == offers[0]["agent_id"]

    oid = offers[0]["id"]["value"]
    await client.accept(sub, [oid, oid], [task_info(offers[0], "t2")])
    status = (await sub.updates(1))[0]
    assert status["message"] == f"Task launched with invalid offers: Duplicate offer {oid} in offer list"
    # The valid offer of a failed ACCEPT is gone as well.
    await client.accept(sub, [oid], [task_info(offers[0], "t3")])
    status = (await sub.updates(1))[0]
    assert status["message"] == f"Task launched with invalid offers: Offer {oid} is no longer valid"

    a, b = offers[1], offers[2]
    await client.accept(sub, [a["id"]["value"], b["id"]["value"]], [task_info(a, "t4")])
    status = (await sub.updates(1))[0]
    assert status["message"].startswith(
        "Task launched with invalid offers: Aggregated offers must belong to one single agent"
    )


async def test_invalid_offers_drop_tasks_of_partition_aware_frameworks(sim):
    _, client = sim
    sub = await client.subscribe(PA)
    offer = (await _offers(sub))[0]
    await client.accept(sub, ["gone"], [task_info(offer, "t1")])
    _no_uuid_master_status((await sub.updates(1))[0], "TASK_DROPPED", "REASON_INVALID_OFFERS")


async def test_offers_of_another_framework_are_invalid(sim):
    _, client = sim
    first = await client.subscribe()
    offer = (await _offers(first))[0]
    second = await client.subscribe(framework_info(name="other"))
    await client.accept(second, [offer["id"]["value"]], [task_info(offer, "t1")])
    status = (await second.updates(1))[0]
    assert status["message"] == (
        f"Task launched with invalid offers: Offer {offer['id']['value']} has invalid framework "
        f"{first.framework_id} while framework {second.framework_id} is expected"
    )


async def test_invalid_task_infos_get_task_error(sim):
    _, client = sim
    sub = await client.subscribe()
    offer = (await _offers(sub))[0]
    other_agent = "someone-S9"
    no_resources = task_info(offer, "t-none")
    no_resources["resources"] = []
    both = task_info(offer, "t-both")
    both["executor"] = {"executor_id": {"value": "e"}, "command": {"value": "x"}}
    neither = task_info(offer, "t-neither")
    del neither["command"]
    tasks = [
        task_info(offer, "ok", cpus=1),
        task_info(offer, "ok", cpus=1),  # duplicate of the one just launched
        task_info(offer, "t-big", cpus=4),  # only 3 cpus left after "ok"
        no_resources,
        both,
        neither,
        task_info(offer, "t-agent", agent_id=other_agent),
        task_info(offer, "bad/id"),
    ]
    await _launch(client, sub, offer, *tasks)
    statuses = {}
    for _ in range(len(tasks)):
        status = (await sub.updates(1))[0]
        statuses.setdefault(status["task_id"]["value"], []).append(status)
    assert statuses["ok"][0]["state"] == "TASK_STARTING" or statuses["ok"][1]["state"] == "TASK_STARTING"
    errors = {tid: s[-1] for tid, s in statuses.items() if s[-1]["state"] == "TASK_ERROR"}
    for status in errors.values():
        _no_uuid_master_status(status, "TASK_ERROR", "REASON_TASK_INVALID")
    dup = [s for s in statuses["ok"] if s["state"] == "TASK_ERROR"][0]
    assert dup["message"] == "Task has duplicate ID: ok"
    assert errors["t-big"]["message"] == (
        "Total resources cpus(allocated: *):4; mem(allocated: *):128 required by task and its executor "
        "is more than available cpus(allocated: *):3; mem(allocated: *):8064; "
        "disk(allocated: *):65536; ports(allocated: *):[31000-32000]"
    )
    assert errors["t-none"]["message"] == "Task uses no resources"
    both_msg = "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present"
    assert errors["t-both"]["message"] == both_msg
    assert errors["t-neither"]["message"] == both_msg
    assert errors["t-agent"]["message"] == (
        f"Task uses invalid agent {other_agent} while agent {offer['agent_id']['value']} is expected"
    )
    assert errors["bad/id"]["message"] == "'bad/id' contains invalid characters"


async def test_unofferable_resources_are_more_than_available(sim):
    _, client = sim
    sub = await client.subscribe()
    offer = (await _offers(sub))[0]
    reserved = task_info(offer, "t1")
    reserved["resources"][0]["role"] = "db"
    await _launch(client, sub, offer, reserved)
    status = (await sub.updates(1))[0]
    assert status["state"] == "TASK_ERROR"
    assert "more than available" in status["message"]


async def test_custom_executor_task(sim):
    _, client = sim
    sub = await client.subscribe()
    offer = (await _offers(sub))[0]
    info = task_info(offer, "t1")
    del info["command"]
    info["executor"] = {
        "executor_id": {"value": "exec-1"},
        "command": {"value": "./executor"},
        "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.5}}],
    }
    await _launch(client, sub, offer, info, refuse_seconds=0)
    status = (await sub.updates(1))[0]
    assert (status["state"], status["executor_id"]) == ("TASK_STARTING", {"value": "exec-1"})
    again = await sub.offers_where(lambda e: any(o["agent_id"] == offer["agent_id"] for o in e["offers"]["offers"]))
    leftover = [o for o in again["offers"]["offers"] if o["agent_id"] == offer["agent_id"]][0]
    assert scalar(leftover, "cpus") == 2.5  # task 1 + executor 0.5


async def test_unused_resources_are_declined_with_the_accept_filter(sim):
    _, client = sim
    sub = await client.subscribe()
    offer = (await _offers(sub))[0]
    await _launch(client, sub, offer, task_info(offer, "t1"), refuse_seconds=3600)
    seen = [o for e in await sub.quiet(0.4, types=("OFFERS",)) for o in e["offers"]["offers"]]
    assert offer["agent_id"] not in [o["agent_id"] for o in seen]


async def test_kill_running_task(sim):
    _, client = sim
    sub = await client.subscribe()
    offer = (await _offers(sub))[0]
    await _run_to_running(client, sub, offer, "t1")
    status, _ = await client.call(sub, {"type": "KILL", "kill": {"task_id": {"value": "t1"}}})
    assert status == 202
    killed = (await sub.updates(1, timeout=1.0))[0]
    assert killed["state"] == "TASK_KILLED"
    assert killed["source"] == "SOURCE_EXECUTOR"
    assert "uuid" in killed
    await client.ack(sub, killed)


async def test_kill_with_task_killing_state_capability(sim):
    _, client = sim
    sub = await client.subscribe(framework_info(capabilities=[{"type": "TASK_KILLING_STATE"}]))
    offer = (await _offers(sub))[0]
    await _run_to_running(client, sub, offer, "t1")
    await client.call(sub, {"type": "KILL", "kill": {"task_id": {"value": "t1"}}})
    killing = (await sub.updates(1))[0]
    assert killing["state"] == "TASK_KILLING"
    await client.ack(sub, killing)
    assert (await sub.updates(1))[0]["state"] == "TASK_KILLED"


async def test_kill_unknown_task_answers_like_reconciliation(sim):
    handle, client = sim
    sub = await client.subscribe()
    await client.call(sub, {"type": "KILL", "kill": {"task_id": {"value": "ghost"}}})
    status = (await sub.updates(1))[0]
    _no_uuid_master_status(status, "TASK_LOST", "REASON_RECONCILIATION")
    assert status["message"] == "Reconciliation: Task is unknown"

    pa = await client.subscribe(PA)
    agent_id = next(iter(handle.state.agents))
    await client.call(pa, {"type": "KILL", "kill": {"task_id": {"value": "ghost"}, "agent_id": {"value": agent_id}}})
    status = (await pa.updates(1))[0]
    _no_uuid_master_status(status, "TASK_GONE", "REASON_RECONCILIATION")
    assert status["message"] == "Reconciliation: Task is unknown to the agent"


async def test_implicit_and_explicit_reconciliation(sim):
    handle, client = sim
    sub = await client.subscribe(PA)
    offers = await _offers(sub)
    await _run_to_running(client, sub, offers[0], "t1")
    await _run_to_running(client, sub, offers[1], "t2")

    await client.call(sub, {"type": "RECONCILE", "reconcile": {"tasks": []}})
    statuses = await sub.updates(2)
    assert sorted(s["task_id"]["value"] for s in statuses) == ["t1", "t2"]
    for status in statuses:
        _no_uuid_master_status(status, "TASK_RUNNING", "REASON_RECONCILIATION")
        assert status["message"] == "Reconciliation: Latest task state"
        assert "agent_id" in status

    agent_id = offers[2]["agent_id"]["value"]
    await client.call(
        sub,
        {
            "type": "RECONCILE",
            "reconcile": {
                "tasks": [
                    {"task_id": {"value": "t1"}, "agent_id": offers[0]["agent_id"]},
                    {"task_id": {"value": "ghost-1"}, "agent_id": {"value": agent_id}},
                    {"task_id": {"value": "ghost-2"}},
                    {"task_id": {"value": "ghost-3"}, "agent_id": {"value": "never-seen-S1"}},
                ]
            },
        },
    )
    got = {s["task_id"]["value"]: s for s in await sub.updates(4)}
    assert got["t1"]["state"] == "TASK_RUNNING"
    assert got["ghost-1"]["state"] == "TASK_GONE"
    assert got["ghost-2"]["state"] == "TASK_UNKNOWN"
    assert got["ghost-3"]["state"] == "TASK_UNKNOWN"
    for status in got.values():
        assert status["reason"] == "REASON_RECONCILIATION" and "uuid" not in status


async def test_reconciliation_maps_partition_states_to_lost(sim):
    handle, client = sim
    sub = await client.subscribe()  # not PARTITION_AWARE
    agent_id = next(iter(handle.state.agents))
    await client.call(
        sub,
        {
            "type": "RECONCILE",
            "reconcile": {"tasks": [{"task_id": {"value": "ghost"}, "agent_id": {"value": agent_id}}]},
        },
    )
    status = (await sub.updates(1))[0]
    assert status["state"] == "TASK_LOST"
    assert status["message"] == "Reconciliation: Task is unknown to the agent"


async def test_reconciliation_reports_the_state_delivered_not_the_latest(sim):
    """Master::reconcile answers task->status_update_state(): what the scheduler was sent."""
    handle, client = sim
    sub = await client.subscribe()
    offer = (await _offers(sub))[0]
    await _launch(client, sub, offer, task_info(offer, "t1"))
    starting = (await sub.updates(1))[0]
    await asyncio.sleep(0.1)  # now RUNNING on the agent, update held back
    await client.call(sub, {"type": "RECONCILE", "reconcile": {}})
    status = await sub.expect("UPDATE", 1.0, lambda e: "uuid" not in e["update"]["status"])
    assert status["update"]["status"]["state"] == "TASK_STARTING"
    await client.ack(sub, starting)


async def test_outcome_from_labels(sim):
    _, client = sim
    sub = await client.subscribe()
    offer = (await _offers(sub))[0]
    await _run_to_running(
        client, sub, offer, "t1", labels={"sim.duration": 0, "sim.state": "TASK_FAILED", "sim.exit_code": 3}
    )
    failed = (await sub.updates(1))[0]
    assert failed["state"] == "TASK_FAILED"
    assert failed["message"] == "Command exited with status 3"
    assert failed["reason"] == "REASON_COMMAND_EXECUTOR_FAILED"
    assert failed["source"] == "SOURCE_EXECUTOR"
    assert "uuid" in failed


async def test_exit_code_alone_decides_the_state(sim):
    _, client = sim
    sub = await client.subscribe()
    offers = await _offers(sub)
    await _run_to_running(client, sub, offers[0], "t0", labels={"sim.duration": 0, "sim.exit_code": 0})
    assert (await sub.updates(1))[0]["state"] == "TASK_FINISHED"
    await _run_to_running(client, sub, offers[1], "t1", labels={"sim.duration": 0, "sim.exit_code": 7})
    status = (await sub.updates(1))[0]
    assert (status["state"], status["message"]) == ("TASK_FAILED", "Command exited with status 7")


async def test_bad_sim_label_is_a_task_error(sim):
    _, client = sim
    sub = await client.subscribe()
    offer = (await _offers(sub))[0]
    await _launch(client, sub, offer, task_info(offer, "t1", labels={"sim.duration": "soon"}))
    status = (await sub.updates(1))[0]
    assert status["state"] == "TASK_ERROR"
    assert status["message"].startswith("Simulator: label sim.duration")


async def test_outcome_rules(sim):
    _, client = sim
    status, rule = await client.control(
        "POST", "/sim/outcomes", {"name_glob": "flaky-*", "state": "TASK_FAILED", "exit_code": 2, "duration": 0}
    )
    assert status == 201 and rule["id"] == 1
    status, _ = await client.control(
        "POST", "/sim/outcomes", {"command_contains": "never", "probability": 0.0, "state": "TASK_LOST", "duration": 0}
    )
    assert status == 201
    status, rule = await client.control(
        "POST", "/sim/outcomes", {"label": "kind=gone", "state": "TASK_GONE", "duration": 0}
    )
    assert status == 201
    status, body = await client.control("GET", "/sim/outcomes")
    assert [r["id"] for r in body["rules"]] == [1, 2, 3]

    sub = await client.subscribe()
    offers = await _offers(sub)
    await _run_to_running(client, sub, offers[0], "a", name="flaky-1")
    assert (await sub.updates(1))[0]["state"] == "TASK_FAILED"
    await _run_to_running(client, sub, offers[1], "b", command="never fails", labels={"sim.duration": 0})
    assert (await sub.updates(1))[0]["state"] == "TASK_FINISHED"  # probability 0: default applies
    await _run_to_running(client, sub, offers[2], "c", labels={"kind": "gone"})
    gone = (await sub.updates(1))[0]
    assert gone["state"] == "TASK_LOST"  # TASK_GONE is only for PARTITION_AWARE frameworks
    assert gone["source"] == "SOURCE_AGENT"

    status, body = await client.control("DELETE", "/sim/outcomes")
    assert (status, body) == (200, {"deleted": 3})
    status, body = await client.control("POST", "/sim/outcomes", {"name_glob": "x", "state": "TASK_RUNNING"})
    assert status == 400 and "state" in body["detail"]
    status, body = await client.control("POST", "/sim/outcomes", {"name_glob": "x"})
    assert status == 400
    status, body = await client.control(
        "POST", "/sim/outcomes", {"name_glob": "x", "state": "TASK_FAILED", "probability": 2}
    )
    assert status == 400 and "probability" in body["detail"]


async def test_end_task_through_control_api(sim):
    handle, client = sim
    sub = await client.subscribe()
    offers = await _offers(sub)
    await _run_to_running(client, sub, offers[0], "t1")
    status, body = await client.control("PUT", "/sim/tasks/t1", {"state": "TASK_FAILED", "exit_code": 3})
    assert status == 200 and body["state"] == "TASK_FAILED"
    failed = (await sub.updates(1))[0]
    assert (failed["state"], failed["message"]) == ("TASK_FAILED", "Command exited with status 3")
    status, body = await client.control("PUT", "/sim/tasks/t1", {"state": "TASK_FAILED"})
    assert status == 409
    await client.ack(sub, failed)

    await _run_to_running(client, sub, offers[1], "t2")
    status, _ = await client.control("PUT", "/sim/tasks/t2", {"duration": 0.15})
    assert status == 200
    assert await sub.quiet(0.08, types=("UPDATE",)) == []
    assert (await sub.updates(1, timeout=1.0))[0]["state"] == "TASK_FINISHED"

    status, body = await client.control("PUT", "/sim/tasks/nope", {"state": "TASK_FAILED"})
    assert status == 404 and "nope" in body["detail"]
    await _run_to_running(client, sub, offers[2], "t3")
    status, body = await client.control("PUT", "/sim/tasks/t3", {"state": "TASK_DANCING"})
    assert status == 400
    status, body = await client.control("PUT", "/sim/tasks/t3", {"colour": "red"})
    assert status == 400
    status, body = await client.control("PUT", f"/sim/tasks/t3?framework_id={sub.framework_id}", {"exit_code": 0})
    assert status == 200
    assert (await sub.updates(1))[0]["state"] == "TASK_FINISHED"


async def test_launch_group(sim):
    _, client = sim
    sub = await client.subscribe()
    offers = await _offers(sub)
    executor = {
        "type": "DEFAULT",
        "executor_id": {"value": "group-exec"},
        "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}}],
    }
    tasks = [task_info(offers[0], "g1"), task_info(offers[0], "g2")]
    for task in tasks:
        del task["command"]
    await client.accept(
        sub,
        [offers[0]["id"]["value"]],
        operations=[{"type": "LAUNCH_GROUP", "launch_group": {"executor": executor, "task_group": {"tasks": tasks}}}],
    )
    got = {s["task_id"]["value"]: s for s in await sub.updates(2)}
    assert set(got) == {"g1", "g2"}
    assert all(s["state"] == "TASK_STARTING" and s["executor_id"] == {"value": "group-exec"} for s in got.values())

    custom = dict(executor, type="CUSTOM", executor_id={"value": "other"})
    tasks = [task_info(offers[1], "g3"), task_info(offers[1], "g4")]
    await client.accept(
        sub,
        [offers[1]["id"]["value"]],
        operations=[{"type": "LAUNCH_GROUP", "launch_group": {"executor": custom, "task_group": {"tasks": tasks}}}],
    )
    errors = await sub.updates(2)
    assert {s["task_id"]["value"] for s in errors} == {"g3", "g4"}
    assert all(s["state"] == "TASK_ERROR" and s["message"] == "'ExecutorInfo.type' must be 'DEFAULT'" for s in errors)
