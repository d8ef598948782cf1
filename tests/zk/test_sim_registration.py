"""The simulated master's ZooKeeper membership follows its leadership, as a Mesos master's does."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from zkkit import expire_session

from scheduler.mesos.master_detector import leader_child, master_url_from_info, member_sequence
from scheduler.sim import SimConfig, serve_sim, zk_registration

pytestmark = pytest.mark.integration


async def members(kazoo, path) -> list[str]:
    return sorted(await asyncio.to_thread(kazoo.get_children, path))


async def until_members(kazoo, path, predicate, timeout_s=10.0) -> list[str]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        children = await members(kazoo, path)
        if predicate(children):
            return children
        if loop.time() > deadline:
            raise TimeoutError(f"members never matched: {children}")
        await asyncio.sleep(0.05)


async def until_registrations(registration, count: int, timeout_s=5.0) -> None:
    """The znode is visible to other clients a moment before ``create`` returns to the registration
    on its worker thread and the counter moves: wait for the counter, bounded."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while registration.registrations < count:
        if loop.time() > deadline:
            raise TimeoutError(f"registrations stayed at {registration.registrations}, expected {count}")
        await asyncio.sleep(0.02)
    assert registration.registrations == count


async def test_registers_withdraws_while_down_and_comes_back_with_a_higher_sequence(zookeeper, kazoo):
    path = f"/mesos-{uuid.uuid4().hex[:8]}"
    sim = await serve_sim(SimConfig(agents=1), "127.0.0.1", 0)
    registration = await zk_registration.register(sim, zookeeper.url(path))
    try:
        [first] = await until_members(kazoo, path, lambda c: len(c) == 1)
        assert first.startswith("json.info_")
        data, _stat = await asyncio.to_thread(kazoo.get, f"{path}/{first}")
        info = json.loads(data)
        assert info["id"] == sim.state.master_id and info["pid"] == sim.state.pid
        assert master_url_from_info(data) == sim.url  # the detector finds this very master

        sim.master.restart(down_seconds=3.0)  # loses leadership: its znode goes at once
        await until_members(kazoo, path, lambda c: c == [], timeout_s=2.5)
        [second] = await until_members(kazoo, path, lambda c: len(c) == 1, timeout_s=5)
        assert member_sequence(second) > member_sequence(first)
        await until_registrations(registration, 2)

        sim.master.set_leader("http://127.0.0.1:1")  # redirecting to another master: not a member
        await until_members(kazoo, path, lambda c: c == [])
        sim.master.set_leader(None)
        await until_members(kazoo, path, lambda c: len(c) == 1)
    finally:
        await registration.close()
        await sim.close()
    assert await members(kazoo, path) == []  # a clean stop removes the znode at once


async def test_two_simulators_the_first_leads_until_it_goes(zookeeper, kazoo):
    path = f"/mesos-{uuid.uuid4().hex[:8]}"
    a = await serve_sim(SimConfig(agents=1, seed=1), "127.0.0.1", 0)
    b = await serve_sim(SimConfig(agents=1, seed=2), "127.0.0.1", 0)
    reg_a = await zk_registration.register(a, zookeeper.url(path))
    await until_members(kazoo, path, lambda c: len(c) == 1)
    reg_b = await zk_registration.register(b, zookeeper.url(path))
    try:
        children = await until_members(kazoo, path, lambda c: len(c) == 2)
        data, _ = await asyncio.to_thread(kazoo.get, f"{path}/{leader_child(children)}")
        assert master_url_from_info(data) == a.url
        await reg_a.close()
        children = await until_members(kazoo, path, lambda c: len(c) == 1)
        data, _ = await asyncio.to_thread(kazoo.get, f"{path}/{leader_child(children)}")
        assert master_url_from_info(data) == b.url
    finally:
        await reg_a.close()
        await reg_b.close()
        await a.close()
        await b.close()


async def test_an_unreachable_zookeeper_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(zk_registration, "CALL_TIMEOUT_S", 1.0)
    sim = await serve_sim(SimConfig(agents=1), "127.0.0.1", 0)
    try:
        with pytest.raises(zk_registration.RegistrationFailed) as caught:
            await zk_registration.register(sim, "zk://u:hidden-pw@127.0.0.1:1/mesos")
        assert "127.0.0.1:1/mesos" in str(caught.value) and "hidden-pw" not in str(caught.value)
    finally:
        await sim.close()


async def test_an_expired_session_registers_again(zookeeper, kazoo):
    path = f"/mesos-{uuid.uuid4().hex[:8]}"
    sim = await serve_sim(SimConfig(agents=1), "127.0.0.1", 0)
    registration = await zk_registration.register(sim, zookeeper.url(path))
    try:
        [first] = await until_members(kazoo, path, lambda c: len(c) == 1)
        await asyncio.to_thread(expire_session, zookeeper, registration._client)
        [second] = await until_members(kazoo, path, lambda c: len(c) == 1 and c[0] != first)
        assert member_sequence(second) > member_sequence(first)
        await until_registrations(registration, 2)
    finally:
        await registration.close()
        await sim.close()
