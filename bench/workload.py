"""A whole run against the simulator, with real processes, PostgreSQL and RabbitMQ:
``python -m bench.workload --agents 100 --jobs 2000 [--kill-at 0.5]``.

1. a fresh PostgreSQL database and a fresh RabbitMQ queue;
2. ``scale-scheduler sim`` with N agents and outcome rules that fail some tries in each category
   (exit 2: DATA by the job type's mapping, exit 1: ALGORITHM, TASK_LOST: SYSTEM, retried);
3. ``scale-scheduler job-types apply`` and ``scale-scheduler run`` (message handlers in-process);
4. ``scale-scheduler jobs submit`` of all the jobs, through RabbitMQ;
5. optionally ``kill -9`` of the scheduler once a share of the jobs has ended, and a restart;
6. waits until every job has ended, then checks: no job lost (all in a final state), none run twice
   (one execution row per try, tries numbered 1..n, each task id once in the simulator), the status
   counts equal the database's (``scale-scheduler check-status``), and across a kill, the 3-hour
   counts shown after the restart are those the database held at the kill.

It prints the figures and exits non-zero if a check fails. Throughput is reported as tries launched
per second (from the database's launch times), the same run's baseline being the offer rate.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.status_rps import free_port, get_json

PYTHON = sys.executable
# The tree this bench is part of: its simulator, scheduler and commands run from here (as their
# working directory, which `python -m` puts first on the path), whatever the caller's directory;
# run from another directory with PYTHONPATH set, they once ran that directory's code instead.
CODE_ROOT = Path(__file__).resolve().parents[1]


def code_version() -> dict:
    """Which code ran: the tree, its commit, and whether tracked files differ from it."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(CODE_ROOT), *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    changes = git("status", "--porcelain", "--untracked-files=no")
    return {"tree": str(CODE_ROOT), "commit": git("rev-parse", "--short", "HEAD"), "uncommitted_changes": bool(changes)}


ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BROKER_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")

JOB_TYPE = """
- name: bench-work
  version: "1"
  title: Bench Work
  description: A simulated job; the simulator decides how it ends
  resources: {{cpus: {cpus}, mem: {mem}}}
  command: bench-work --seconds 3
  max_tries: 3
  error_mapping: {{2: DATA}}
"""
MAX_JOBS_PER_MESSAGE = 10_000
RULES = [
    {"command_contains": "bench-work", "probability": 0.04, "state": "TASK_LOST", "duration": 1.0},
    {"command_contains": "bench-work", "probability": 0.06, "exit_code": 2, "duration": 1.5},
    {"command_contains": "bench-work", "probability": 0.05, "exit_code": 1, "duration": 1.5},
    {"command_contains": "bench-work", "duration": 3.0},
    {"name_glob": "Node *", "duration": 0.5},
]


def post_json(url: str, body: dict, method: str = "POST") -> None:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method=method, headers={"Content-Type": "application/json"}
    )
    urllib.request.urlopen(request, timeout=10).read()


def cli(env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "-m", "scheduler", *args], env=env, cwd=CODE_ROOT, capture_output=True, text=True, check=check
    )


class Run:
    def __init__(
        self, agents: int, jobs: int, workdir: str, agent_cpus: float = 4.0, agent_mem: float = 8192.0
    ) -> None:
        self.agents, self.jobs, self.workdir = agents, jobs, workdir
        self.agent_cpus, self.agent_mem = agent_cpus, agent_mem
        self.db_name = f"scale_bench_{uuid.uuid4().hex[:8]}"
        self.db_url = ADMIN_URL.rsplit("/", 1)[0] + "/" + self.db_name
        self.queue = f"bench-{uuid.uuid4().hex[:8]}"
        self.sim_port, self.api_port = free_port(), free_port()
        self.sim: subprocess.Popen | None = None
        self.scheduler: subprocess.Popen | None = None
        self.scheduler_env: dict[str, str] = {}  # set for the scheduler only, on top of ``env``
        self.env = {
            **os.environ,
            "MESOS_MASTER_URL": f"http://127.0.0.1:{self.sim_port}",
            "DATABASE_URL": self.db_url,
            "SCALE_BROKER_URL": BROKER_URL,
            "SCALE_QUEUE_NAME": self.queue,
            "PORT0": str(self.api_port),
            "SCALE_API_HOST": "127.0.0.1",
            "MESSAGE_HANDLER_MODE": "in-process",
            "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        }
        self.api = f"http://127.0.0.1:{self.api_port}"
        self.admin = create_engine(
            ADMIN_URL.replace("postgresql://", "postgresql+psycopg2://"), isolation_level="AUTOCOMMIT"
        )
        self.db = None

    def __enter__(self) -> Run:
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{self.db_name}"'))
        self.db = create_engine(self.db_url.replace("postgresql://", "postgresql+psycopg2://"))
        return self

    def __exit__(self, *exc) -> None:
        for proc in (self.scheduler, self.sim):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        if self.db is not None:
            self.db.dispose()
        with self.admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)'))
        self.admin.dispose()
        try:
            from kombu import Connection

            with Connection(BROKER_URL, connect_timeout=5) as broker:
                channel = broker.channel()
                channel.queue_delete(self.queue)
                channel.exchange_delete(self.queue)
        except Exception:
            pass

    def start_sim(self) -> None:
        log = open(Path(self.workdir) / "sim.log", "w")
        self.sim = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "scheduler",
                "sim",
                "--port",
                str(self.sim_port),
                "--agents",
                str(self.agents),
                "--agent-cpus",
                str(self.agent_cpus),
                "--agent-mem",
                str(self.agent_mem),
                "--seed",
                "7",
                "--log-level",
                "WARNING",
            ],
            cwd=CODE_ROOT,
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                get_json(f"http://127.0.0.1:{self.sim_port}/version")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        for rule in RULES:
            post_json(f"http://127.0.0.1:{self.sim_port}/sim/outcomes", rule)

    def start_scheduler(self) -> None:
        log = open(Path(self.workdir) / "scheduler.log", "a")
        self.scheduler = subprocess.Popen(
            [PYTHON, "-m", "scheduler", "run"],
            env={**self.env, **self.scheduler_env},
            cwd=CODE_ROOT,
            stdout=log,
            stderr=log,
        )

    def wait_status(self, predicate, timeout_s: float) -> dict:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                document = get_json(self.api + "/v6/status/")
                if predicate(document):
                    return document
            except (OSError, ValueError):
                pass
            time.sleep(0.5)
        raise RuntimeError("the status never reached the expected state")

    def master_tasks(self, state: str | None = None) -> dict[str, str]:
        """Task id -> state on the master (its live tasks and the completed ones it still lists)."""
        document = get_json(f"http://127.0.0.1:{self.sim_port}/master/state")
        tasks = {}
        for framework in document["frameworks"]:
            for task in framework.get("completed_tasks", []) + framework.get("tasks", []):
                tasks[task["id"]] = task["state"]
        return {t: s for t, s in tasks.items() if state is None or s == state}

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.api + "/readyz", timeout=5) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError("the restarted scheduler never became ready")

    def job_counts(self) -> Counter:
        with self.db.connect() as connection:
            return Counter(dict(connection.execute(text("SELECT status, count(*) FROM job GROUP BY status")).all()))

    def window_counts(self) -> dict:
        """Per node and bucket, the executions the database holds (what a status must show)."""
        with self.db.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT node_id, status, coalesce(error_category, ''), count(*) FROM job_exe "
                    "WHERE status IN ('COMPLETED', 'FAILED') GROUP BY 1, 2, 3"
                )
            ).all()
        return {(node, status, category): n for node, status, category, n in rows}


def shown_counts(document: dict) -> dict:
    counts = {}
    for node in document["nodes"]:
        executions = node["job_executions"]
        if executions["completed"]["total"]:
            counts[(node["id"], "COMPLETED", "")] = executions["completed"]["total"]
        for bucket in ("data", "algorithm", "system"):
            if executions["failed"][bucket]["total"]:
                counts[(node["id"], "FAILED", bucket.upper())] = executions["failed"][bucket]["total"]
    return counts


class _Kept:
    def __init__(self, path: str) -> None:
        self.path = path

    def __enter__(self) -> str:
        return self.path

    def __exit__(self, *exc) -> None:
        pass


def run(
    agents: int,
    jobs: int,
    kill_at: float | None,
    timeout_s: float,
    *,
    agent_cpus: float = 4.0,
    agent_mem: float = 8192.0,
    job_cpus: float = 0.5,
    job_mem: float = 256.0,
) -> int:
    failures: list[str] = []
    report: dict = {"agents": agents, "jobs": jobs}
    keep = os.environ.get("BENCH_WORKDIR")  # keep the processes' logs there
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() if not keep else _Kept(keep) as workdir,
        Run(agents, jobs, workdir, agent_cpus, agent_mem) as r,
    ):
        r.start_sim()
        job_types = Path(workdir) / "job-types.yaml"
        job_types.write_text(JOB_TYPE.format(cpus=job_cpus, mem=job_mem))
        cli(r.env, "job-types", "apply", str(job_types))
        r.start_scheduler()
        r.wait_status(lambda d: sum(n["state"]["name"] == "READY" for n in d["nodes"]) == agents, 120)
        started = time.monotonic()
        report["message_ids"] = []
        for first in range(0, jobs, MAX_JOBS_PER_MESSAGE):
            count = str(min(MAX_JOBS_PER_MESSAGE, jobs - first))
            message = cli(r.env, "jobs", "submit", "--job-type", "bench-work", "--version", "1", "--count", count)
            report["message_ids"].append(message.stdout.strip())
        final = ("COMPLETED", "FAILED", "CANCELED")
        killed = False
        while True:
            counts = r.job_counts()
            done = sum(counts[s] for s in final)
            if kill_at is not None and not killed and done >= kill_at * jobs:
                r.scheduler.send_signal(signal.SIGKILL)
                r.scheduler.wait()
                killed = True
                # Job tries only: node and system tasks are not kept across a restart; a restarted
                # scheduler kills the ones it finds and starts its own.
                running_on_master = {
                    t: s for t, s in r.master_tasks("TASK_RUNNING").items() if t.startswith("scale-job-")
                }
                at_kill = r.window_counts()
                report["killed_with_jobs_done"] = done
                report["running_at_kill"] = counts["RUNNING"]
                r.start_scheduler()
                # Ready means leading and subscribed: until then a restarted instance stands by and
                # serves the status the killed one last stored, which is older than the kill.
                r.wait_ready(120)
                after = r.wait_status(lambda d: len(d["nodes"]) == agents, 120)
                shown = shown_counts(after)
                # Every execution the database held at the kill is shown after the restart.
                missing = {k: n for k, n in at_kill.items() if shown.get(k, 0) < n}
                if missing:
                    failures.append(f"after the restart the status lost 3-hour counts: {missing}")
            if done == jobs and sum(counts.values()) == jobs:
                break
            if time.monotonic() - started > timeout_s:
                failures.append(f"timed out with jobs {dict(counts)}")
                break
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        report["seconds_to_finish"] = round(elapsed, 1)
        report["jobs_by_status"] = dict(r.job_counts())
        with r.db.connect() as connection:
            exes = connection.execute(
                text("SELECT job_id, exe_num, task_id, status, error_category, started FROM job_exe ORDER BY started")
            ).all()
            tries = dict(connection.execute(text("SELECT id, num_exes FROM job")).all())
        per_job = Counter(row.job_id for row in exes)
        if sum(tries.values()) != len(exes) or any(per_job[job] != n for job, n in tries.items()):
            failures.append("the executions do not match the jobs' tries")
        by_try = Counter((row.job_id, row.exe_num) for row in exes)
        if any(n > 1 for n in by_try.values()):
            failures.append("a try was executed twice")
        report["executions"] = len(exes)
        report["executions_by_outcome"] = dict(
            Counter(f"{row.status} {row.error_category or ''}".strip() for row in exes)
        )
        # Placement throughput: how fast the first tries of the burst were placed and written.
        firsts = sorted(row.started.timestamp() for row in exes if row.exe_num == 1)
        if len(firsts) > 1:
            p95 = firsts[int(0.95 * (len(firsts) - 1))]
            span = max(p95 - firsts[0], 1e-3)
            report["first_tries_95pct_placed_in_s"] = round(span, 3)
            report["placements_per_s"] = round(int(0.95 * (len(firsts) - 1)) / span, 1)
        launched = [row.started.timestamp() for row in exes]
        if len(launched) > 1:
            report["launch_rate_per_s"] = round(len(launched) / max(launched[-1] - launched[0], 1e-3), 1)
            per_second = Counter(int(t) for t in launched)
            report["peak_launches_in_one_s"] = max(per_second.values())
        if killed:
            # A try Mesos was running at the kill must end as Mesos ended it: reconciled, never relaunched.
            final_states = r.master_tasks()
            # No rule kills a task: a TASK_KILLED here was the restarted scheduler's doing.
            expected = {"TASK_FINISHED": "COMPLETED", "TASK_FAILED": "FAILED", "TASK_LOST": "FAILED SYSTEM"}
            outcome = {row.task_id: f"{row.status} {row.error_category or ''}".strip() for row in exes}
            wrong = [
                task
                for task in running_on_master
                if task in final_states and not outcome.get(task, "").startswith(expected.get(final_states[task], "?"))
            ]
            report["running_at_kill_on_master"] = len(running_on_master)
            report["running_at_kill_checked"] = sum(1 for task in running_on_master if task in final_states)
            if wrong:
                failures.append(f"{len(wrong)} tries running at the kill were not reconciled: {wrong[:5]}")
        sim_state = get_json(f"http://127.0.0.1:{r.sim_port}/master/state")
        sim_tasks = [
            t["id"] for f in sim_state["frameworks"] for t in f.get("tasks", []) + f.get("completed_tasks", [])
        ]
        duplicates = [task for task, n in Counter(sim_tasks).items() if n > 1]
        if duplicates:
            failures.append(f"task ids launched twice on the master: {duplicates[:5]}")
        time.sleep(2)  # one status persist interval and more: the last ends are in the status too
        check = cli(r.env, "check-status", "--url", r.api, check=False)
        report["check_status"] = check.stderr.strip().splitlines()[-1] if check.stderr.strip() else check.stdout
        if check.returncode != 0:
            failures.append("status counts differ from the database: " + check.stdout.strip()[:500])
    report["failures"] = failures
    print(json.dumps(report, indent=2))
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--kill-at", type=float, help="kill -9 the scheduler when this share of jobs has ended")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--agent-cpus", type=float, default=4.0)
    parser.add_argument("--agent-mem", type=float, default=8192.0)
    parser.add_argument("--job-cpus", type=float, default=0.5)
    parser.add_argument("--job-mem", type=float, default=256.0)
    args = parser.parse_args()
    sizes = dict(agent_cpus=args.agent_cpus, agent_mem=args.agent_mem, job_cpus=args.job_cpus, job_mem=args.job_mem)
    return run(args.agents, args.jobs, args.kill_at, args.timeout, **sizes)


if __name__ == "__main__":
    raise SystemExit(main())
