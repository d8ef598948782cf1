"""The v6 status of a running scheduler against the simulated master, end to end over HTTP."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from e2ekit import scheduler_against, status_when

from scheduler.sim import SimConfig, serve_sim
from scheduler.timefmt import parse_iso

NODE_KEYS = {"id", "hostname", "agent_id", "is_active", "state", "errors", "warnings", "num_offers", "resources"}
METRIC_KEYS = {
    "task_updates_per_sec",
    "new_offers_per_sec",
    "jobs_finished_per_sec",
    "jobs_launched_per_sec",
    "tasks_launched_per_sec",
    "offers_launched_per_sec",
    "tasks_finished_per_sec",
}


def assert_adds_up(resources: dict) -> None:
    for name, part in resources.items():
        assert min(part.values()) >= 0, (name, part)
        total = part["offered"] + part["running"] + part["free"] + part["unavailable"]
        assert abs(total - part["total"]) < 1e-9, (name, part)
        assert all(round(v, 2) == v for v in part.values()), (name, part)


def node_by_agent(document, agent_id):
    return next(n for n in document["nodes"] if n["agent_id"] == agent_id)


async def test_status_shape_invariant_and_freshness(tmp_path):
    sim = await serve_sim(SimConfig(agents=3, allocation_interval_s=0.2, task_duration_s=0.5), "127.0.0.1", 0)
    try:
        async with scheduler_against(sim, tmp_path) as (daemon, http):
            document = await status_when(
                http,
                lambda d: (
                    len(d["nodes"]) == 3
                    and all(
                        n["resources"]["cpus"]["total"] == 4.0 and n["state"]["name"] == "READY" for n in d["nodes"]
                    )
                    and d["scheduler"]["warnings"] == []
                ),
            )
            assert time.time() - parse_iso(document["timestamp"]) <= 2.0
            assert document["timestamp"].endswith("Z")
            scheduler = document["scheduler"]
            assert set(scheduler["metrics"]) == METRIC_KEYS
            assert scheduler["mesos"]["framework_id"] == daemon.driver.framework_id
            assert scheduler["state"]["name"] == "READY" and scheduler["warnings"] == []
            assert scheduler["hostname"]
            for node in document["nodes"]:
                assert NODE_KEYS <= set(node)
                assert node["state"]["name"] == "READY" and node["is_active"] is True
                assert isinstance(node["id"], int)
                assert_adds_up(node["resources"])
            assert_adds_up(document["resources"])
            assert document["resources"]["cpus"]["total"] == 12.0
            assert document["system"]["services"][0]["name"] == "messaging"
            assert document["job_types"] == []
    finally:
        await sim.close()


async def test_other_frameworks_usage_shows_as_unavailable(tmp_path):
    sim = await serve_sim(SimConfig(agents=2, allocation_interval_s=0.2, task_duration_s=0.5), "127.0.0.1", 0)
    try:
        async with scheduler_against(sim, tmp_path) as (daemon, http):
            agent_id = next(iter(sim.state.agents))
            before = await status_when(http, lambda d: len(d["nodes"]) == 2 and d["resources"]["cpus"]["total"] == 8)
            assert node_by_agent(before, agent_id)["resources"]["cpus"]["unavailable"] == 0.0
            async with aiohttp.ClientSession() as control:
                resp = await control.put(f"{sim.url}/sim/agents/{agent_id}/usage", json={"cpus": 2})
                assert resp.status == 200
            after = await status_when(
                http, lambda d: node_by_agent(d, agent_id)["resources"]["cpus"]["unavailable"] == 2.0, timeout=15
            )
            cpus = node_by_agent(after, agent_id)["resources"]["cpus"]
            assert cpus["total"] == 4.0
            assert_adds_up(node_by_agent(after, agent_id)["resources"])
            assert after["resources"]["cpus"]["unavailable"] == 2.0
    finally:
        await sim.close()


async def test_removed_agent_turns_offline_then_deprecated_and_comes_back(tmp_path):
    sim = await serve_sim(SimConfig(agents=2, allocation_interval_s=0.2, task_duration_s=0.5), "127.0.0.1", 0)
    try:
        async with scheduler_against(sim, tmp_path, NODE_RETIRE_AFTER="2") as (daemon, http):
            agent_id = next(iter(sim.state.agents))
            document = await status_when(http, lambda d: len(d["nodes"]) == 2)
            hostname = node_by_agent(document, agent_id)["hostname"]
            node_id = node_by_agent(document, agent_id)["id"]
            async with aiohttp.ClientSession() as control:
                assert (await control.delete(f"{sim.url}/sim/agents/{agent_id}")).status == 200
            offline = await status_when(http, lambda d: node_by_agent(d, agent_id)["state"]["name"] == "OFFLINE")
            assert len(offline["nodes"]) == 2  # shown, not dropped
            assert offline["resources"]["cpus"]["total"] == 4.0  # only the online node counts
            retired = await status_when(http, lambda d: node_by_agent(d, agent_id)["state"]["name"] == "DEPRECATED")
            assert node_by_agent(retired, agent_id)["is_active"] is False
            # The host returns under a new agent id, as a restarted Mesos agent does: same node.
            async with aiohttp.ClientSession() as control:
                assert (
                    await control.post(f"{sim.url}/sim/agents", json={"count": 1, "hostname": hostname})
                ).status in (
                    200,
                    201,
                )
            back = await status_when(
                http,
                lambda d: any(n["hostname"] == hostname and n["state"]["name"] == "READY" for n in d["nodes"]),
            )
            node = next(n for n in back["nodes"] if n["hostname"] == hostname)
            assert node["id"] == node_id and node["agent_id"] != agent_id and node["is_active"] is True
    finally:
        await sim.close()


@pytest.mark.slow
async def test_api_command_serves_from_the_database_and_goes_stale(tmp_path):
    from scheduler.api.app import create_app
    from scheduler.api.database_status import DatabaseStatus
    from scheduler.daemon import start_api
    from scheduler.store.database import Database

    sim = await serve_sim(SimConfig(agents=1, allocation_interval_s=0.2, task_duration_s=0.5), "127.0.0.1", 0)
    database = Database(f"sqlite:///{tmp_path}/status.db")
    stop_reader = asyncio.Event()
    try:
        async with scheduler_against(sim, tmp_path) as (daemon, http):
            await status_when(http, lambda d: len(d["nodes"]) == 1 and d["scheduler"]["mesos"]["framework_id"])
            source = DatabaseStatus(database, freshness_s=2.0, poll_interval_s=0.2)
            runner, url = await start_api(create_app(status=source), "127.0.0.1", 0)
            reader = asyncio.create_task(source.run(stop_reader))
            async with aiohttp.ClientSession(base_url=url) as api:
                # Served from the database once the scheduler has stored a status written after it subscribed.
                document = await status_when(
                    api, lambda d: d["scheduler"]["mesos"]["framework_id"] == daemon.driver.framework_id
                )
                assert document["scheduler"]["hostname"]
        # The scheduler is gone: the api command keeps its last document, then says it is stale.
        async with aiohttp.ClientSession() as api:
            deadline = time.monotonic() + 10
            while (resp := await api.get(url + "/v6/status/")).status == 200:
                resp.release()
                assert time.monotonic() < deadline, "the stored status never went stale"
                await asyncio.sleep(0.2)
            async with resp:
                assert resp.status == 503
                assert await resp.json() == {"detail": "Status is over 2 seconds old"}
        stop_reader.set()
        await reader
        await runner.cleanup()
    finally:
        await database.close()
        await sim.close()
