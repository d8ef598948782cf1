"""The driver against the simulated master, over real HTTP on loopback."""

from __future__ import annotations

import asyncio

import pytest
from driverkit import running_driver, sim_config

from scheduler.mesos import calls
from scheduler.mesos.driver import CallError, MemoryFrameworkIdStore
from scheduler.mesos.events import (
    Disconnected,
    Heartbeat,
    MasterError,
    OffersReceived,
    Subscribed,
    TaskState,
    TaskUpdate,
)
from scheduler.sim.server import serve_sim


def is_update(task_id: str, *states: TaskState):
    return lambda e: (
        isinstance(e, TaskUpdate) and e.status.task_id == task_id and (not states or e.status.state in states)
    )


def small_task(offer, task_id: str, *, cpus=0.5, mem=64.0, labels=None) -> dict:
    resources = [
        calls.scalar_resource("cpus", cpus, _like(offer, "cpus")),
        calls.scalar_resource("mem", mem, _like(offer, "mem")),
    ]
    return calls.task_info(
        task_id=task_id, name=task_id, agent_id=offer.agent_id, resources=resources, command="true", labels=labels
    )


def _like(offer, name):
    return next(r for r in offer.resources if r.name == name)


async def first_offers(recorder) -> OffersReceived:
    return await recorder.wait_for(lambda e: isinstance(e, OffersReceived) and e.offers)


async def master_state(http, sim) -> dict:
    async with http.get(sim.url + "/master/state") as resp:
        assert resp.status == 200
        return await resp.json()


async def test_subscribe_stores_framework_id_and_sets_failover_timeout(sim, http):
    store = MemoryFrameworkIdStore()
    async with running_driver(sim.url, store=store) as (driver, recorder):
        subscribed = await recorder.wait_for(lambda e: isinstance(e, Subscribed))
        await recorder.wait_for(lambda e: isinstance(e, Heartbeat))
        assert driver.subscribed and driver.stream_id
        assert store.framework_id == subscribed.framework_id == driver.framework_id
        assert subscribed.heartbeat_interval_s == pytest.approx(0.2)
        frameworks = (await master_state(http, sim))["frameworks"]
        assert [f["id"] for f in frameworks] == [subscribed.framework_id]
        assert frameworks[0]["failover_timeout"] == 60.0
        assert frameworks[0]["name"] == "scale-test"


async def test_offers_arrive_typed(sim):
    async with running_driver(sim.url) as (_driver, recorder):
        event = await first_offers(recorder)
        offer = event.offers[0]
        assert offer.id and offer.agent_id and offer.hostname
        assert offer.scalar("cpus") == 4.0
        assert offer.scalar("mem") == 8192.0


async def test_decline_with_filter_then_reoffer_after_it(sim):
    async with running_driver(sim.url) as (driver, recorder):
        event = await first_offers(recorder)
        loop = asyncio.get_running_loop()
        agent = event.offers[0].agent_id
        declined_at = loop.time()
        await driver.decline([event.offers[0].id], refuse_seconds=0.6)
        again = await recorder.wait_for(
            lambda e: isinstance(e, OffersReceived) and any(o.agent_id == agent for o in e.offers), timeout=5
        )
        waited = loop.time() - declined_at
        assert waited >= 0.6, f"re-offered after {waited:.2f} s, before the 0.6 s filter expired"
        assert all(o.id != event.offers[0].id for o in again.offers)  # a new offer, not the old one


async def test_launch_runs_and_every_update_is_acknowledged(sim, http):
    async with running_driver(sim.url) as (driver, recorder):
        offer = (await first_offers(recorder)).offers[0]
        await driver.launch([offer.id], [small_task(offer, "t-launch")], refuse_seconds=1)
        seen = []
        while True:
            update = await recorder.wait_for(is_update("t-launch"))
            assert update.status.uuid, "executor updates carry a uuid"
            assert await driver.acknowledge(update.status) is True
            seen.append(update.status.state)
            if update.status.state.is_terminal:
                break
        assert seen == [TaskState.STARTING, TaskState.RUNNING, TaskState.FINISHED]
        # Acknowledged terminal tasks leave the master: nothing is re-sent.
        await asyncio.sleep(0.8)
        assert len([e for e in recorder.events if is_update("t-launch")(e)]) == 3
        frameworks = (await master_state(http, sim))["frameworks"]
        assert frameworks[0]["tasks"] == []


async def test_unacknowledged_update_is_resent(sim):
    async with running_driver(sim.url) as (driver, recorder):
        offer = (await first_offers(recorder)).offers[0]
        await driver.launch([offer.id], [small_task(offer, "t-noack")], refuse_seconds=1)
        first = await recorder.wait_for(is_update("t-noack"))
        again = await recorder.wait_for(is_update("t-noack"), timeout=3)
        assert again.status.uuid == first.status.uuid  # the same update, retried until acknowledged


async def test_master_generated_updates_are_not_acknowledged(sim):
    async with running_driver(sim.url) as (driver, recorder):
        await recorder.wait_for(lambda e: isinstance(e, Subscribed))
        await driver.reconcile([("never-launched", None)])
        update = await recorder.wait_for(is_update("never-launched"))
        assert update.status.uuid is None
        assert update.status.reason == "REASON_RECONCILIATION"
        assert update.status.state == TaskState.UNKNOWN  # PARTITION_AWARE, no agent given (TASK_LOST otherwise)
        assert await driver.acknowledge(update.status) is False


async def test_kill_a_running_task(sim):
    async with running_driver(sim.url) as (driver, recorder):
        offer = (await first_offers(recorder)).offers[0]
        task = small_task(offer, "t-kill", labels={"sim.duration": "60"})
        await driver.launch([offer.id], [task], refuse_seconds=1)
        while (update := await recorder.wait_for(is_update("t-kill"))).status.state != TaskState.RUNNING:
            await driver.acknowledge(update.status)
        await driver.acknowledge(update.status)
        await driver.kill("t-kill", offer.agent_id)
        killed = await recorder.wait_for(is_update("t-kill", TaskState.KILLED))
        assert killed.status.uuid
        await driver.acknowledge(killed.status)


async def test_reconciliation_explicit_and_implicit(sim):
    async with running_driver(sim.url) as (driver, recorder):
        offer = (await first_offers(recorder)).offers[0]
        await driver.launch([offer.id], [small_task(offer, "t-recon", labels={"sim.duration": "60"})], 1)
        while (update := await recorder.wait_for(is_update("t-recon"))).status.state != TaskState.RUNNING:
            await driver.acknowledge(update.status)
        await driver.acknowledge(update.status)

        await driver.reconcile([("t-recon", offer.agent_id)])
        explicit = await recorder.wait_for(is_update("t-recon"))
        assert explicit.status.state == TaskState.RUNNING
        assert explicit.status.reason == "REASON_RECONCILIATION" and explicit.status.uuid is None

        await driver.reconcile([])
        implicit = await recorder.wait_for(is_update("t-recon"))
        assert implicit.status.state == TaskState.RUNNING
        assert implicit.status.reason == "REASON_RECONCILIATION"


async def test_missed_heartbeats_lead_to_a_resubscribe_with_the_same_id(sim, http):
    async with running_driver(sim.url, missed_heartbeats=3) as (driver, recorder):
        first = await recorder.wait_for(lambda e: isinstance(e, Subscribed))
        # The stream stays open but goes silent, as over a half-open TCP connection.
        async with http.post(sim.url + "/sim/master/silence", json={"seconds": 5}) as resp:
            assert resp.status == 200
        loop = asyncio.get_running_loop()
        silenced_at = loop.time()
        lost = await recorder.wait_for(lambda e: isinstance(e, Disconnected), timeout=5)
        assert "heartbeats" in lost.reason
        assert loop.time() - silenced_at >= 0.5  # 3 intervals of 0.2 s, not at the first gap
        again = await recorder.wait_for(lambda e: isinstance(e, Subscribed), timeout=5)
        assert again.framework_id == first.framework_id
        assert driver.subscriptions == 2


async def test_master_restart_resubscribes_with_same_id_and_keeps_tasks(sim, http):
    async with running_driver(sim.url) as (driver, recorder):
        offer = (await first_offers(recorder)).offers[0]
        await driver.launch([offer.id], [small_task(offer, "t-survivor", labels={"sim.duration": "60"})], 1)
        while (update := await recorder.wait_for(is_update("t-survivor"))).status.state != TaskState.RUNNING:
            await driver.acknowledge(update.status)
        await driver.acknowledge(update.status)
        framework_id = driver.framework_id

        async with http.post(sim.url + "/sim/master/restart", json={"down_seconds": 1}) as resp:
            assert resp.status == 200
        await recorder.wait_for(lambda e: isinstance(e, Disconnected))
        # While the master is down, calls are refused (503 retried, then given up) or not sent.
        with pytest.raises(CallError):
            await driver.reconcile([])
        again = await recorder.wait_for(lambda e: isinstance(e, Subscribed), timeout=10)
        assert again.framework_id == framework_id

        await driver.reconcile([("t-survivor", offer.agent_id)])
        recon = await recorder.wait_for(is_update("t-survivor"))
        assert recon.status.state == TaskState.RUNNING  # no task lost
        state = await master_state(http, sim)
        assert [f["id"] for f in state["frameworks"]] == [framework_id]
        assert [t["id"] for t in state["frameworks"][0]["tasks"]] == ["t-survivor"]


async def test_redirect_to_the_leader_is_followed(http):
    leader = await serve_sim(sim_config(), "127.0.0.1", 0)
    follower = await serve_sim(sim_config(redirect_to=leader.url), "127.0.0.1", 0)
    try:
        async with running_driver(follower.url) as (driver, recorder):
            subscribed = await recorder.wait_for(lambda e: isinstance(e, Subscribed))
            assert driver.master_url == leader.url
            await driver.reconcile([])  # calls go to the leader too
            state = await master_state(http, leader)
            assert [f["id"] for f in state["frameworks"]] == [subscribed.framework_id]
    finally:
        await follower.close()
        await leader.close()


async def test_restart_of_the_scheduler_resubscribes_with_the_stored_id(sim, http):
    store = MemoryFrameworkIdStore()
    async with running_driver(sim.url, store=store) as (driver, recorder):
        first = await recorder.wait_for(lambda e: isinstance(e, Subscribed))
    # A plain stop sends no TEARDOWN: the framework is still known to the master.
    state = await master_state(http, sim)
    assert [f["id"] for f in state["frameworks"]] == [first.framework_id]
    async with running_driver(sim.url, store=store) as (driver, recorder):
        again = await recorder.wait_for(lambda e: isinstance(e, Subscribed))
        assert again.framework_id == first.framework_id


async def test_explicit_teardown_removes_the_framework(sim, http):
    store = MemoryFrameworkIdStore()
    async with running_driver(sim.url, store=store) as (driver, recorder):
        await recorder.wait_for(lambda e: isinstance(e, Subscribed))
        await driver.stop(teardown=True)
    assert store.framework_id is None
    state = await master_state(http, sim)
    assert state["frameworks"] == []


async def test_removed_framework_id_is_dropped_and_a_new_one_obtained(http):
    master = await serve_sim(sim_config(), "127.0.0.1", 0)
    try:
        store = MemoryFrameworkIdStore()
        async with running_driver(master.url, store=store, failover_timeout_s=0.0) as (driver, recorder):
            first = await recorder.wait_for(lambda e: isinstance(e, Subscribed))
        # failover_timeout 0: the master removed the framework the moment the stream closed.
        await asyncio.sleep(0.3)
        async with running_driver(master.url, store=store) as (driver, recorder):
            error = await recorder.wait_for(lambda e: isinstance(e, MasterError))
            assert error.framework_removed
            fresh = await recorder.wait_for(lambda e: isinstance(e, Subscribed), timeout=5)
            assert fresh.framework_id != first.framework_id
            assert store.framework_id == fresh.framework_id
    finally:
        await master.close()


async def test_calls_before_subscribing_are_refused_locally(sim):
    from scheduler.mesos.driver import NotSubscribed

    async with running_driver("http://127.0.0.1:9") as (driver, _recorder):
        with pytest.raises(NotSubscribed):
            await driver.decline(["o-1"], 1)
