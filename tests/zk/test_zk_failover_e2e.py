"""A whole scheduler with ``MESOS_MASTER_URL=zk://...`` against simulated masters in a real ZooKeeper.

- two ``scale-scheduler sim --zk`` processes: the scheduler subscribes to the leader; the leader
  stops; within 10 s it is subscribed to the other under the same framework id;
- no task lost: two masters over one shared model (what Mesos' replicated registry gives a new
  leader), jobs running through the leader change, every one finishes once, none rerun;
- ZooKeeper stopped: the status stays fresh and carries the MASTER_DETECTION warning, nothing
  re-subscribes; the warning goes when ZooKeeper is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import types
import uuid

import aiohttp
import pytest
from e2ekit import scheduler_against, status_when
from sqlalchemy import text

from scheduler.jobs.definitions import JobType
from scheduler.jobs.messages import build_queue_jobs_for
from scheduler.mesos.master_detector import ZkState
from scheduler.messaging.producer import publish_queue_jobs
from scheduler.sim import SimConfig, serve_sim, zk_registration
from scheduler.sim.server import SimMaster, create_sim_app
from scheduler.store.job_type_rows import upsert_job_types
from scheduler.timefmt import parse_iso

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FAILOVER_LIMIT_S = 10.0


async def until(predicate, timeout_s: float, what: str) -> float:
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not predicate():
        if loop.time() - start > timeout_s:
            raise AssertionError(f"{what}: not within {timeout_s} s")
        await asyncio.sleep(0.05)
    return loop.time() - start


async def connected_framework_ids(url: str) -> list[str]:
    async with aiohttp.ClientSession() as http, http.get(url + "/master/state") as resp:
        state = await resp.json()
    return [f["id"] for f in state["frameworks"] if f["active"]]


# --- two simulator processes ---


def start_sim_process(zk_url: str, seed: int, log_path) -> subprocess.Popen:
    command = [sys.executable, "-m", "scheduler", "sim", "--port", "0", "--agents", "2", "--seed", str(seed)]
    command += ["--heartbeat-interval", "1", "--zk", zk_url]
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )


async def wait_members(zookeeper, path: str, count: int) -> list[str]:
    from kazoo.client import KazooClient

    client = KazooClient(hosts=f"127.0.0.1:{zookeeper.port}")
    await asyncio.to_thread(client.start, 15)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if await asyncio.to_thread(client.exists, path):
                children = await asyncio.to_thread(client.get_children, path)
                if len(children) == count:
                    return sorted(children)
            await asyncio.sleep(0.1)
        raise AssertionError(f"{count} simulators never registered under {path}")
    finally:
        await asyncio.to_thread(client.stop)
        await asyncio.to_thread(client.close)


async def test_the_scheduler_follows_the_leader_between_two_sim_processes(zookeeper, tmp_path):
    path = f"/mesos-{uuid.uuid4().hex[:8]}"
    zk_url = zookeeper.url(path)
    first = start_sim_process(zk_url, 1, tmp_path / "sim1.log")
    second = None
    try:
        await wait_members(zookeeper, path, 1)
        second = start_sim_process(zk_url, 2, tmp_path / "sim2.log")
        await wait_members(zookeeper, path, 2)
        async with scheduler_against(types.SimpleNamespace(url=zk_url), tmp_path) as (daemon, _http):
            driver = daemon.driver
            await until(lambda: driver.subscribed, 15, "first subscription")
            leader_url, framework_id = driver.master_url, driver.framework_id
            assert await connected_framework_ids(leader_url) == [framework_id]
            assert daemon.detector.problem() is None

            first.send_signal(signal.SIGTERM)  # the leader stops (and leaves the group)
            took = await until(
                lambda: driver.subscribed and driver.master_url != leader_url and driver.subscriptions == 2,
                FAILOVER_LIMIT_S,
                "subscribed to the new leader",
            )
            assert driver.framework_id == framework_id
            assert await connected_framework_ids(driver.master_url) == [framework_id]
            print(f"moved to the new leader in {took:.2f} s")
            assert first.wait(10) == 0
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()


# --- two masters over one model: no task lost ---


class SharedStateMaster:
    """A second (or first) HTTP address of one SimMaster, registered in ZooKeeper on its own.

    Two of these over one SimMaster stand for two Mesos masters with the replicated registry: the
    new leader knows the frameworks, agents and tasks. What ZkRegistration needs of a handle is
    ``master.serving()`` and ``state.master_info()``; this object is both, with its own address.
    """

    def __init__(self, sim: SimMaster) -> None:
        self.sim = sim
        self.master = self.state = self
        self.up = True
        self.runner = None
        self.url = ""

    async def start(self) -> None:
        from aiohttp import web

        self.runner = web.AppRunner(create_sim_app(self.sim), handler_cancellation=True, shutdown_timeout=1.0)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{self.port}"

    async def crash(self) -> None:
        """Its connections drop, then it leaves the group (a clean master exit, in that order)."""
        await self.runner.cleanup()
        self.up = False

    def serving(self) -> bool:
        return self.up and self.sim.serving()

    def master_info(self) -> dict:
        info = self.sim.state.master_info()
        info.update(port=self.port, pid=f"master@127.0.0.1:{self.port}")
        info["address"] = {"hostname": "127.0.0.1", "ip": "127.0.0.1", "port": self.port}
        return info


async def test_no_task_is_lost_when_the_leader_changes(zookeeper, tmp_path):
    path = f"/mesos-{uuid.uuid4().hex[:8]}"
    zk_url = zookeeper.url(path)
    config = SimConfig(agents=2, heartbeat_interval_s=1.0, allocation_interval_s=0.2, task_duration_s=6.0)
    shared = SimMaster(config)
    a, b = SharedStateMaster(shared), SharedStateMaster(shared)
    await a.start()
    await b.start()
    shared.state.set_address("127.0.0.1", a.port)
    await shared.start()
    reg_a = await zk_registration.register(a, zk_url)
    await wait_members(zookeeper, path, 1)
    reg_b = await zk_registration.register(b, zk_url)
    await wait_members(zookeeper, path, 2)
    overrides = {"MESSAGE_HANDLER_MODE": "in-process", "SCALE_QUEUE_NAME": f"zk-{uuid.uuid4().hex[:6]}"}
    try:
        async with scheduler_against(types.SimpleNamespace(url=zk_url), tmp_path, **overrides) as (daemon, http):
            driver = daemon.driver
            await until(lambda: driver.subscribed and driver.master_url == a.url, 15, "subscribed to a")
            framework_id = driver.framework_id
            job_type = JobType("steady", "1", "sleep 6", cpus=0.5, mem=64.0)
            await daemon.database.run(lambda connection: upsert_job_types(connection, [job_type]))
            await asyncio.to_thread(publish_queue_jobs, daemon.settings, build_queue_jobs_for("steady", "1", count=6))
            await until(lambda: shared.state.task_counts().get("TASK_RUNNING", 0) >= 6, 20, "6 jobs running")

            await a.crash()
            took = await until(
                lambda: driver.subscribed and driver.master_url == b.url, FAILOVER_LIMIT_S, "subscribed to b"
            )
            print(f"moved to the new leader in {took:.2f} s")
            assert driver.framework_id == framework_id

            await status_when(
                http, lambda d: sum(n["job_executions"]["completed"]["total"] for n in d["nodes"]) == 6, timeout=30
            )
            counts = await daemon.database.run(
                lambda c: c.execute(text("SELECT count(*), count(DISTINCT job_id) FROM job_exe")).one()
            )
            assert tuple(counts) == (6, 6)  # each job ran once: nothing was lost and rerun
            document = await status_when(http, lambda d: True)
            failed = [n["job_executions"]["failed"] for n in document["nodes"]]
            assert sum(f["system"]["total"] + f["algorithm"]["total"] + f["data"]["total"] for f in failed) == 0
    finally:
        await reg_a.close()
        await reg_b.close()
        await shared.stop()
        with contextlib.suppress(Exception):
            await b.runner.cleanup()


# --- ZooKeeper away ---

# Longer than the 10 s session timeout. A restarted ZooKeeper restores its sessions with a fresh
# timeout (session expiry does not run while it is down, and the client only learns of an expiry
# from a server), so 30 s would show nothing more than 12 s does.
ZK_DOWN_S = 12.0


async def test_zookeeper_down_keeps_the_master_and_says_so(own_zookeeper, tmp_path):
    zk_url = own_zookeeper.url("/mesos")
    sim = await serve_sim(SimConfig(agents=2, heartbeat_interval_s=1.0, allocation_interval_s=0.2), "127.0.0.1", 0)
    registration = await zk_registration.register(sim, zk_url)
    try:
        async with scheduler_against(types.SimpleNamespace(url=zk_url), tmp_path) as (daemon, http):
            driver, detector = daemon.driver, daemon.detector
            await until(lambda: driver.subscribed and driver.master_url == sim.url, 15, "subscribed")
            await status_when(http, lambda d: len(d["nodes"]) == 2)
            subscriptions = driver.subscriptions
            assert detector.problem() is None

            await asyncio.to_thread(own_zookeeper.stop)
            down_at = time.monotonic()
            seen_in_status = False
            await until(lambda: detector.view().state is not ZkState.CONNECTED, 15, "disconnection seen")
            while time.monotonic() - down_at < ZK_DOWN_S:
                async with http.get("/v6/status/") as resp:
                    assert resp.status == 200
                    document = await resp.json()
                assert time.time() - parse_iso(document["timestamp"]) < 3.0
                assert driver.subscribed and driver.subscriptions == subscriptions
                problem = detector.problem()
                assert problem is not None and "ZooKeeper" in problem and sim.url in problem
                served = [w for w in document["scheduler"]["warnings"] if w["name"] == "MASTER_DETECTION"]
                if served:
                    seen_in_status = True
                    assert "ZooKeeper" in served[0]["description"]
                else:
                    # The engine reads the detector every MASTER_POLL_INTERVAL (0.5 s here).
                    assert not seen_in_status and time.monotonic() - down_at < 5.0, "no warning in the status"
                await asyncio.sleep(0.5)
            assert seen_in_status

            await asyncio.to_thread(own_zookeeper.start)
            await until(lambda: detector.problem() is None, 30, "ZooKeeper back")
            await status_when(http, lambda d: all(w["name"] != "MASTER_DETECTION" for w in d["scheduler"]["warnings"]))
            assert registration.registrations == 1 and registration.znode  # its session survived
            await asyncio.sleep(1.0)
            assert driver.subscribed and driver.subscriptions == subscriptions  # nothing restarted
            assert driver.master_url == sim.url
    finally:
        await registration.close()
        await sim.close()
