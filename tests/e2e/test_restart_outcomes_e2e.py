"""Exact outcomes across a ``kill -9`` (issue 10, shortened): 40 jobs exit 2 (DATA by the job
type's mapping) and 40 exit 1 (ALGORITHM), each running 4 s; the scheduler (a real ``scale-scheduler
run`` process) is killed while they run and restarted after 6 s, when all of them have ended on the
agents. The restarted scheduler first hears their ends from reconciliation (no exit status), then
from the agents, which re-send their own updates: the status and the database show exactly 40 DATA
and 40 ALGORITHM failures, none SYSTEM, none UNKNOWN."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter

import pytest
from sqlalchemy import create_engine, text

from scheduler.jobs.definitions import ErrorCategory, JobType
from scheduler.jobs.messages import build_queue_jobs_for
from scheduler.sim import SimConfig, serve_sim
from scheduler.store.database import Database
from scheduler.store.ingest import store_queue_jobs
from scheduler.store.job_type_rows import upsert_job_types

EACH = 40
RUN_S = 4.0
DATA = JobType("exit-data", "1", "exit-data", cpus=1.0, mem=64.0, max_tries=3, error_mapping={2: ErrorCategory.DATA})
ALGO = JobType("exit-algo", "1", "exit-algo", cpus=1.0, mem=64.0, max_tries=3, error_mapping={2: ErrorCategory.DATA})


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


async def seed(db_url: str) -> None:
    database = Database(db_url)
    try:
        await database.migrate()
        await database.run(lambda connection: upsert_job_types(connection, [DATA, ALGO]))
        for job_type in (DATA, ALGO):
            message = build_queue_jobs_for(job_type.name, "1", count=EACH)
            await database.run(lambda connection, m=message: store_queue_jobs(connection, m))
    finally:
        await database.close()


def start_scheduler(env: dict, log_path) -> subprocess.Popen:
    log = open(log_path, "a")
    return subprocess.Popen([sys.executable, "-m", "scheduler", "run"], env=env, stdout=log, stderr=log)


async def wait_for(predicate, timeout: float, what: str, log_path=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = await asyncio.to_thread(predicate)
        except (OSError, ValueError):
            result = None
        if result:
            return result
        await asyncio.sleep(0.3)
    if log_path is not None:  # the scheduler's last words, for whoever reads a failed CI run
        what += "; the scheduler's log ends:\n" + "\n".join(log_path.read_text().splitlines()[-30:])
    raise AssertionError(what)


def job_tasks(sim) -> list:
    return [
        task
        for framework in sim.state.frameworks.values()
        for task in [*framework.tasks.values(), *framework.completed_tasks]
        if task.id.startswith("scale-job-")
    ]


def failed_buckets(document: dict) -> Counter:
    totals = Counter()
    for node in document["nodes"]:
        failed = node["job_executions"]["failed"]
        for bucket in ("data", "algorithm", "system"):
            totals[bucket] += failed[bucket]["total"]
        totals["completed"] += node["job_executions"]["completed"]["total"]
        totals["running"] += node["job_executions"]["running"]["total"]
    return totals


@pytest.mark.slow
async def test_outcomes_are_exact_after_a_kill_9_while_jobs_run(tmp_path):
    db_url = f"sqlite:///{tmp_path}/scheduler.db"
    await seed(db_url)
    config = SimConfig(
        agents=10,
        agent_cpus=8.0,
        heartbeat_interval_s=1.0,
        allocation_interval_s=0.2,
        task_duration_s=0.3,  # node tasks
        update_retry_s=1.0,  # the agents re-send unacknowledged updates after 1 s (Mesos: 10 s)
        update_retry_max_s=4.0,
    )
    sim = await serve_sim(config, "127.0.0.1", 0)
    sim.state.outcomes.add_rule({"command_contains": "exit-data", "exit_code": 2, "duration": RUN_S})
    sim.state.outcomes.add_rule({"command_contains": "exit-algo", "exit_code": 1, "duration": RUN_S})
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "MESOS_MASTER_URL": sim.url,
        "DATABASE_URL": db_url,
        "PORT0": str(port),
        "SCALE_API_HOST": "127.0.0.1",
        "MESSAGE_HANDLER_MODE": "in-process",
        "SCALE_QUEUE_NAME": f"restart-outcomes-{port}",
        "MASTER_POLL_INTERVAL": "0.5",
        "STATUS_PERSIST_INTERVAL": "0.5",
        "LOG_LEVEL": "INFO",
    }
    log_path = tmp_path / "scheduler.log"
    scheduler = start_scheduler(env, log_path)
    try:
        # All 80 run at once (10 agents x 8 cpus); kill -9 while they do, once every RUNNING update is
        # acknowledged. An unacknowledged one stays at the head of its agent's queue, and the master
        # answers reconciliation with it (status_update_state) until the agent is heard again: that
        # task's end would come first from its agent, not from the master, and the premise below fails.
        def all_running_and_acknowledged() -> bool:
            tasks = job_tasks(sim)
            return len(tasks) == 2 * EACH and all(t.state == "TASK_RUNNING" and not t.pending for t in tasks)

        await wait_for(
            all_running_and_acknowledged, 60, "the jobs never all ran with their updates acknowledged", log_path
        )
        scheduler.send_signal(signal.SIGKILL)
        scheduler.wait(10)
        await asyncio.sleep(RUN_S + 2.0)  # the pause: every job ends on its agent while no scheduler listens
        assert {t.state for t in job_tasks(sim)} == {"TASK_FAILED"}
        # In Mesos the agents' re-sent updates need a round trip (master -> agent -> master) after the
        # re-subscription, so the reconciliation answers often come first (591 of 1,500 in the issue's
        # run). The simulator re-sends at once; holding the agents' traffic makes that race certain.
        agents = list(sim.state.agents)
        for agent_id in agents:
            sim.master.partition(agent_id)
        scheduler = start_scheduler(env, log_path)

        def awaited() -> int:
            # Tasks whose end came first from the master (an explicit and an implicit reconciliation
            # may each answer for the same task, so lines are counted by task, not one by one).
            found = re.findall(
                r"Task (\S+) ended \S+ by the master's word; its exit status is awaited", log_path.read_text()
            )
            return len(set(found))

        await wait_for(lambda: awaited() == 2 * EACH, 60, "the reconciliation answers never came", log_path)
        for agent_id in agents:
            sim.master.heal(agent_id)

        def database_counts():
            engine = create_engine(db_url)
            try:
                with engine.connect() as connection:
                    rows = connection.execute(
                        text("SELECT status, coalesce(error_category, ''), count(*) FROM job_exe GROUP BY 1, 2")
                    ).all()
                    jobs = connection.execute(text("SELECT status, count(*) FROM job GROUP BY 1")).all()
            finally:
                engine.dispose()
            return Counter({f"{s} {c}".strip(): n for s, c, n in rows}), Counter(dict(jobs))

        def all_ended():
            counts = database_counts()
            return counts if counts[1].get("FAILED") == 2 * EACH else None

        def status_shows_them():
            document = get_json(api + "/v6/status/")
            shown = failed_buckets(document)
            return document if shown["data"] + shown["algorithm"] + shown["system"] >= 2 * EACH else None

        exes, jobs = await wait_for(all_ended, 60, "the jobs never all ended after the restart", log_path)
        document = await wait_for(status_shows_them, 30, "the status never showed the 80 failures", log_path)
        shown = failed_buckets(document)
        print(f"\nstatus: {dict(shown)}; database tries: {dict(exes)}; jobs: {dict(jobs)}")
        assert exes == Counter({"FAILED DATA": EACH, "FAILED ALGORITHM": EACH})
        assert (shown["data"], shown["algorithm"], shown["system"], shown["running"]) == (EACH, EACH, 0, 0)
        print(f"tries whose end came first from the master, without exit status: {awaited()}")
    finally:
        if scheduler.poll() is None:
            scheduler.terminate()
            try:
                scheduler.wait(10)
            except subprocess.TimeoutExpired:
                scheduler.kill()
        await sim.close()
