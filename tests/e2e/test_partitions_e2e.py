"""Network partitions against the simulated master, the whole scheduler in-process (shortened:
the master marks a partitioned agent unreachable after 0.4 s x 5 instead of 15 s x 5).

- partitioned, then healed before ``UNREACHABLE_TIMEOUT``: the tries on the agent are kept (the
  framework is PARTITION_AWARE), finish, and none is rerun;
- partitioned past ``UNREACHABLE_TIMEOUT``: each try on the agent is retried once, as SYSTEM, and
  the old task is killed when its agent comes back.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from e2ekit import scheduler_against, status_when
from sqlalchemy import text

from scheduler.jobs.definitions import JobType
from scheduler.jobs.messages import build_queue_jobs_for
from scheduler.messaging.producer import publish_queue_jobs
from scheduler.sim import SimConfig, serve_sim
from scheduler.store.database import Database
from scheduler.store.job_type_rows import upsert_job_types

JOBS = 4
SIM = SimConfig(
    agents=2,
    agent_cpus=4.0,
    heartbeat_interval_s=1.0,
    allocation_interval_s=0.2,
    task_start_delay_s=0.05,
    task_duration_s=0.3,  # node tasks
    update_retry_s=0.5,
    agent_ping_timeout_s=0.4,
    max_agent_ping_timeouts=5,
)
WORK = JobType("part-work", "1", "part-work", cpus=1.0, mem=64.0, max_tries=3)


async def seed(tmp_path) -> None:
    database = Database(f"sqlite:///{tmp_path}/status.db")
    try:
        await database.migrate()
        await database.run(lambda connection: upsert_job_types(connection, [WORK]))
    finally:
        await database.close()


def job_tasks(sim) -> dict[str, object]:
    """Every job task the master has (live or completed), by id; a task id twice would be a rerun."""
    tasks: dict[str, object] = {}
    for framework in sim.state.frameworks.values():
        for task in [*framework.tasks.values(), *framework.completed_tasks]:
            if task.id.startswith("scale-job-"):
                assert task.id not in tasks, f"task {task.id} launched twice"
                tasks[task.id] = task
    return tasks


async def until(predicate, timeout: float, what: str):
    async with asyncio.timeout(timeout):
        while not (result := predicate()):
            await asyncio.sleep(0.1)
    assert result, what
    return result


def exes(connection):
    rows = connection.execute(
        text("SELECT job_id, exe_num, status, error_category FROM job_exe ORDER BY job_id, exe_num")
    )
    return [tuple(row) for row in rows]


def jobs(connection):
    return dict(connection.execute(text("SELECT id, status FROM job")).all())


async def start_jobs(sim, daemon, http) -> str:
    """Queue the jobs, wait until they all run on the master; the agent that runs them."""
    await status_when(http, lambda d: d["nodes"] and all(n["state"]["name"] == "READY" for n in d["nodes"]), 30)
    await asyncio.to_thread(publish_queue_jobs, daemon.settings, build_queue_jobs_for("part-work", "1", count=JOBS))

    def all_running():
        running = [t for t in job_tasks(sim).values() if t.state == "TASK_RUNNING"]
        return running if len(running) == JOBS else None

    running = await until(all_running, 30, "the jobs never ran")
    agents = Counter(task.agent_id for task in running)
    return agents.most_common(1)[0][0]


async def test_a_partition_healed_in_time_loses_nothing_and_reruns_nothing(tmp_path):
    sim = await serve_sim(SIM, "127.0.0.1", 0)
    sim.state.outcomes.add_rule({"command_contains": "part-work", "duration": 8.0})
    await seed(tmp_path)
    overrides = {
        "MESSAGE_HANDLER_MODE": "in-process",
        "SCALE_QUEUE_NAME": "partition-heal",
        "UNREACHABLE_TIMEOUT": "60",
    }
    try:
        async with scheduler_against(sim, tmp_path, **overrides) as (daemon, http):
            agent = await start_jobs(sim, daemon, http)
            on_agent = {t.id for t in job_tasks(sim).values() if t.agent_id == agent}
            sim.master.partition(agent)
            # The master marks it unreachable (2 s): the node shows it, the tries are kept.
            hostname = sim.state.agents[agent].hostname
            shown = await status_when(
                http,
                lambda d: any(
                    n["hostname"] == hostname and any(e["name"] == "AGENT_UNREACHABLE" for e in n["errors"])
                    for n in d["nodes"]
                ),
                15,
            )
            node = next(n for n in shown["nodes"] if n["hostname"] == hostname)
            assert node["state"]["name"] in ("OFFLINE", "DEGRADED")
            assert f"Unreachable tasks: {len(on_agent)}" in next(
                e["description"] for e in node["errors"] if e["name"] == "AGENT_UNREACHABLE"
            )
            # The core has applied the unreachable answers (the status says so): nothing was rerun.
            assert {row[1] for row in await daemon.database.run(exes)} == {1}
            sim.master.heal(agent)
            async with asyncio.timeout(30):
                while set((await daemon.database.run(jobs)).values()) != {"COMPLETED"}:
                    await asyncio.sleep(0.2)
            rows = await daemon.database.run(exes)
            assert len(rows) == JOBS and {row[1:] for row in rows} == {(1, "COMPLETED", None)}
            tasks = job_tasks(sim)
            assert len(tasks) == JOBS and {t.state for t in tasks.values()} == {"TASK_FINISHED"}
            assert on_agent <= set(tasks)
    finally:
        await sim.close()


async def test_a_partition_past_the_timeout_retries_each_try_once_as_system(tmp_path):
    sim = await serve_sim(SIM, "127.0.0.1", 0)
    sim.state.outcomes.add_rule({"command_contains": "part-work", "duration": 6.0})
    await seed(tmp_path)
    overrides = {"MESSAGE_HANDLER_MODE": "in-process", "SCALE_QUEUE_NAME": "partition-long", "UNREACHABLE_TIMEOUT": "2"}
    try:
        async with scheduler_against(sim, tmp_path, **overrides) as (daemon, http):
            agent = await start_jobs(sim, daemon, http)
            first_on_agent = {t.id for t in job_tasks(sim).values() if t.agent_id == agent}
            sim.master.partition(agent)
            # Unreachable after 2 s, given up 2 s later: retried on the other agent.
            async with asyncio.timeout(30):
                while len([t for t in job_tasks(sim).values() if t.agent_id != agent]) < JOBS:
                    await asyncio.sleep(0.2)
            sim.master.heal(agent)
            async with asyncio.timeout(30):
                while set((await daemon.database.run(jobs)).values()) != {"COMPLETED"}:
                    await asyncio.sleep(0.2)
            rows = await daemon.database.run(exes)
            retried = {f"scale-job-{job}-1" for job, num, *_ in rows if num == 2}
            assert retried == first_on_agent
            for job_id, exe_num, status, category in rows:
                if f"scale-job-{job_id}-1" in first_on_agent:
                    expected = ("FAILED", "SYSTEM") if exe_num == 1 else ("COMPLETED", None)
                    assert (status, category) == expected, rows
                else:
                    assert (exe_num, status) == (1, "COMPLETED")
            assert max(row[1] for row in rows) == 2  # each retried once
            # Back from the partition, the old tasks are killed rather than left to run twice.
            tasks = job_tasks(sim)
            await until(
                lambda: all(job_tasks(sim)[t].state in ("TASK_KILLED", "TASK_FINISHED") for t in first_on_agent),
                15,
                "the old tries were not stopped",
            )
            assert {tasks[t].state for t in tasks if t not in first_on_agent} == {"TASK_FINISHED"}
    finally:
        await sim.close()
