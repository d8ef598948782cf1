"""ZooKeeperDetector against a real ZooKeeper: leader choice, changes, credentials, outages."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest
from zkkit import expire_session, master_info

from scheduler.mesos.master_detector import ZkState, ZooKeeperDetector

pytestmark = pytest.mark.integration


class Leaders:
    """Collects on_leader calls, with the thread each came on."""

    def __init__(self) -> None:
        self.urls: list[str | None] = []
        self.threads: set[int] = set()

    def __call__(self, url: str | None) -> None:
        self.urls.append(url)
        self.threads.add(threading.get_ident())

    async def wait_for(self, url: str | None, timeout_s: float = 10.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not self.urls or self.urls[-1] != url:
            if loop.time() > deadline:
                raise TimeoutError(f"leader never became {url}; saw {self.urls}")
            await asyncio.sleep(0.02)


async def until(predicate, timeout_s: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.02)


async def test_follows_the_lowest_sequence_on_the_loop_thread(zookeeper, kazoo):
    path = f"/mesos-{uuid.uuid4().hex[:8]}"
    leaders = Leaders()
    detector = ZooKeeperDetector(zookeeper.url(path), leaders)
    detector.start()
    try:
        # The path does not exist yet: no leader, and the detector says so.
        await until(lambda: detector.view().state is ZkState.CONNECTED and detector.view().error)
        assert "does not exist" in detector.problem()

        kazoo.ensure_path(path)
        kazoo.create(f"{path}/log_replicas", b"")
        first = kazoo.create(f"{path}/json.info_", master_info("m1.test", 5051), ephemeral=True, sequence=True)
        await leaders.wait_for("http://m1.test:5051")
        kazoo.create(f"{path}/json.info_", master_info("m2.test", 5052), ephemeral=True, sequence=True)
        await asyncio.sleep(0.5)
        assert leaders.urls == ["http://m1.test:5051"]  # a standby joining changes nothing
        assert detector.problem() is None

        kazoo.delete(first)  # the leader is gone: the next sequence leads
        await leaders.wait_for("http://m2.test:5052", timeout_s=5)
        assert leaders.threads == {threading.get_ident()}  # always delivered on the loop's thread
    finally:
        await detector.stop()


async def test_a_bad_leader_znode_keeps_the_current_master_and_says_why(zookeeper, kazoo):
    path = f"/mesos-{uuid.uuid4().hex[:8]}"
    kazoo.ensure_path(path)
    good = kazoo.create(f"{path}/json.info_", master_info("m1.test", 5051), ephemeral=True, sequence=True)
    leaders = Leaders()
    detector = ZooKeeperDetector(zookeeper.url(path), leaders)
    detector.start()
    try:
        await leaders.wait_for("http://m1.test:5051")
        # A lower sequence with garbage cannot exist (sequences grow), so replace the leader's data.
        kazoo.set(good, b"{not json")
        kazoo.create(f"{path}/json.info_", master_info("m2.test", 5052), ephemeral=True, sequence=True)
        await until(lambda: detector.view().error is not None)
        assert "not JSON" in detector.problem() and "keeping master http://m1.test:5051" in detector.problem()
        assert leaders.urls == ["http://m1.test:5051"]
        kazoo.delete(good)
        await leaders.wait_for("http://m2.test:5052")
        assert detector.problem() is None
    finally:
        await detector.stop()


async def test_digest_credentials_reach_a_protected_path(zookeeper, kazoo):
    from kazoo.security import make_digest_acl

    path = f"/mesos-{uuid.uuid4().hex[:8]}"
    acl = [make_digest_acl("scale", "pw-123", all=True)]
    kazoo.create(path, b"", acl=acl)
    from kazoo.client import KazooClient

    owner = KazooClient(hosts=f"127.0.0.1:{zookeeper.port}", auth_data=[("digest", "scale:pw-123")])
    owner.start(timeout=15)
    try:
        owner.create(f"{path}/json.info_", master_info("m1.test", 5051), ephemeral=True, sequence=True, acl=acl)
        refused = ZooKeeperDetector(zookeeper.url(path), Leaders())
        refused.start()
        allowed_leaders = Leaders()
        allowed = ZooKeeperDetector(zookeeper.url(path, credentials="scale:pw-123@"), allowed_leaders)
        allowed.start()
        try:
            await allowed_leaders.wait_for("http://m1.test:5051")
            await until(lambda: refused.view().error is not None)
            assert "NoAuth" in refused.problem() and "pw-123" not in refused.problem()
            assert "pw-123" not in allowed.zk_url.display()
        finally:
            await refused.stop()
            await allowed.stop()
    finally:
        owner.stop()
        owner.close()


async def test_an_expired_session_is_reported_and_the_watch_comes_back(zookeeper, kazoo):
    path = f"/mesos-{uuid.uuid4().hex[:8]}"
    kazoo.ensure_path(path)
    first = kazoo.create(f"{path}/json.info_", master_info("m1.test", 5051), ephemeral=True, sequence=True)
    leaders = Leaders()
    detector = ZooKeeperDetector(zookeeper.url(path), leaders)
    states: list[ZkState] = []
    detector.start()
    detector._client.add_listener(lambda state: states.append(state))
    try:
        await leaders.wait_for("http://m1.test:5051")
        await asyncio.to_thread(expire_session, zookeeper, detector._client)
        await until(lambda: "LOST" in states and detector.view().state is ZkState.CONNECTED)
        assert leaders.urls == ["http://m1.test:5051"]  # the same leader: nothing to move
        # The old session's watch is gone; the one set after reconnecting sees the next change.
        kazoo.create(f"{path}/json.info_", master_info("m2.test", 5052), ephemeral=True, sequence=True)
        kazoo.delete(first)
        await leaders.wait_for("http://m2.test:5052", timeout_s=5)
    finally:
        await detector.stop()


async def test_unreachable_zookeeper_is_reported_and_stop_is_prompt():
    detector = ZooKeeperDetector("zk://127.0.0.1:1/mesos", Leaders())
    detector.start()
    await asyncio.sleep(0.5)
    assert "not connected to ZooKeeper zk://127.0.0.1:1/mesos yet" in detector.problem()
    loop = asyncio.get_running_loop()
    started = loop.time()
    await detector.stop()
    assert loop.time() - started < 3.0
