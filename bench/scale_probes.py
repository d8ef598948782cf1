"""What ``bench.scale`` watches while a burst runs, each in a thread of the bench process: the status
as a client sees it (every 100 ms, gzip accepted), and once a second the scheduler's /metrics, the
database's counts, the master's tasks and the scheduler's memory."""

from __future__ import annotations

import os
import re
import threading
import time
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from bench.status_rps import get_json

TIMESTAMP = re.compile(rb'"timestamp":\s*"([^"]+)"')
FINAL = ("COMPLETED", "FAILED", "CANCELED")


def quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- Prometheus histograms: the difference of two scrapes, and quantiles from its buckets ---------


def histogram(metrics_text: str, name: str) -> dict[float, float]:
    """Cumulative bucket counts by upper bound (inf included); empty when the metric is absent."""
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(metrics_text):
        if family.name != name:
            continue
        for sample in family.samples:
            if sample.name == f"{name}_bucket":
                buckets[float(sample.labels["le"])] = sample.value
    return buckets


def gauge(metrics_text: str, name: str) -> float | None:
    for family in text_string_to_metric_families(metrics_text):
        if family.name == name:
            for sample in family.samples:
                return sample.value
    return None


def labelled_totals(metrics_text: str, name: str, label: str, le: str) -> dict[str, tuple[float, float, float]]:
    """Per value of ``label``: (count, sum, count above ``le``) of a labelled histogram."""
    totals: dict[str, list[float]] = {}
    for family in text_string_to_metric_families(metrics_text):
        if family.name != name:
            continue
        for sample in family.samples:
            entry = totals.setdefault(sample.labels[label], [0.0, 0.0, 0.0])
            if sample.name == f"{name}_count":
                entry[0] = sample.value
            elif sample.name == f"{name}_sum":
                entry[1] = sample.value
            elif sample.name == f"{name}_bucket" and sample.labels["le"] == le:
                entry[2] = sample.value  # the count at or below ``le``
    return {key: (count, total, count - at_most) for key, (count, total, at_most) in totals.items()}


def labelled_counts(metrics_text: str, name: str) -> dict[str, float]:
    """A counter's value per value of its one label (``generation``); empty when absent."""
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(metrics_text):
        if family.name == name:
            for sample in family.samples:
                if sample.name == f"{name}_total":
                    counts[next(iter(sample.labels.values()))] = sample.value
    return counts


def histogram_delta(before: dict[float, float], after: dict[float, float]) -> dict[float, float]:
    return {le: after[le] - before.get(le, 0.0) for le in after}


def histogram_quantile(buckets: dict[float, float], q: float) -> float | None:
    """Prometheus' estimate: linear within the bucket holding the q-th observation."""
    if not buckets:
        return None
    bounds = sorted(buckets)
    total = buckets[bounds[-1]]
    if total <= 0:
        return None
    rank, lower, below = q * total, 0.0, 0.0
    for le in bounds:
        count = buckets[le]
        if count >= rank:
            if le == float("inf"):
                return lower  # beyond the last finite bound: that bound is all we know
            return lower + (le - lower) * ((rank - below) / max(count - below, 1e-12))
        lower, below = le, count
    return bounds[-2] if len(bounds) > 1 else None


# --- the status, as a client polling it sees it ---------------------------------------------------


class StatusPoller(threading.Thread):
    def __init__(self, url: str, interval_s: float = 0.1) -> None:
        super().__init__(daemon=True, name="status-poller")
        self.url, self.interval_s = url, interval_s
        self.latencies: list[float] = []
        self.ages: list[float] = []
        self.answered_at: list[float] = []  # when each age was read (epoch seconds), for the timeline
        self.errors = 0
        self.encodings: set[str] = set()
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(30)

    def run(self) -> None:
        due = time.monotonic()
        while not self._stop_event.is_set():
            self.poll()
            due += self.interval_s
            self._stop_event.wait(max(0.0, due - time.monotonic()))
            due = max(due, time.monotonic() - self.interval_s)  # after a long request, no burst of catch-ups

    def poll(self) -> None:
        request = urllib.request.Request(self.url, headers={"Accept-Encoding": "gzip"})
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                body = resp.read()
                encoding = resp.headers.get("Content-Encoding", "identity")
        except (OSError, urllib.error.HTTPError):
            self.errors += 1  # a 503 while the scheduler restarts, or refused while it is down
            return
        latency = time.monotonic() - started
        self.encodings.add(encoding)
        head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(body, 65536) if encoding == "gzip" else body
        match = TIMESTAMP.search(head[:65536])
        if match is None:
            self.errors += 1
            return
        generated = datetime.fromisoformat(match.group(1).decode().replace("Z", "+00:00")).timestamp()
        self.latencies.append(latency)
        answered = time.time()
        self.ages.append(answered - generated)
        self.answered_at.append(answered)


# --- once a second: metrics, database counts, launches in flight, memory ---------------------------


@dataclass
class Sample:
    at: float
    metrics: str
    jobs: dict[str, int]
    recorded_running: int
    in_flight: int | None  # None: the master's tasks were not read this time
    unrecorded_on_master: int | None
    rss_kb: int | None
    hwm_kb: int | None
    pid: int | None
    cpu: dict[str, float] = field(default_factory=dict)  # cpu_seconds(): where the machine's time went


class Sampler(threading.Thread):
    def __init__(self, run, interval_s: float = 1.0, master_every_s: float = 5.0) -> None:
        super().__init__(daemon=True, name="sampler")
        self.run_, self.interval_s = run, interval_s
        # The check against the master's own task list (its whole state, 100,000 tasks) is made this
        # often: a probe that asks the master for everything every second becomes the master's load.
        self.master_every_s = master_every_s
        self._master_due = 0.0
        self.samples: list[Sample] = []
        self.failures: list[str] = []
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(60)

    def run(self) -> None:
        while not self._stop_event.is_set():
            started = time.monotonic()
            try:
                self.samples.append(self.sample())
            except Exception as exc:  # one failed sample (e.g. the scheduler restarting) is not the run's end
                self.failures.append(f"{type(exc).__name__}: {exc}"[:200])
            self._stop_event.wait(max(0.0, self.interval_s - (time.monotonic() - started)))

    def sample(self) -> Sample:
        r = self.run_
        try:
            with urllib.request.urlopen(r.api + "/metrics", timeout=10) as resp:
                metrics = resp.read().decode()
        except OSError:
            metrics = ""
        with r.db.connect() as connection:
            jobs = dict(connection.execute(text("SELECT status, count(*) FROM job GROUP BY status")).all())
            if time.monotonic() < self._master_due:
                pid, rss, hwm = scheduler_memory(r)
                return Sample(
                    time.time(), metrics, jobs, jobs.get("RUNNING", 0), None, None, rss, hwm, pid, cpu_seconds(r)
                )
            self._master_due = time.monotonic() + self.master_every_s
            running = [
                row[0]
                for row in connection.execute(
                    text("SELECT task_id FROM job_exe WHERE status = 'RUNNING' AND task_id LIKE 'scale-job-%'")
                )
            ]
        # Then the master: a try recorded above and known to neither its live nor its recently
        # completed tasks was written before its ACCEPT and not yet taken by the master: in flight.
        live, completed = master_job_tasks(r.sim_port)
        # (An upper bound: an end the master listed among more than its last 1,000 completed tasks
        # and the scheduler has not written yet would count too.)
        in_flight = len(set(running) - live - completed)
        with r.db.connect() as connection:
            # Every task the master has was recorded before its ACCEPT: none may be missing here.
            known = connection.execute(
                text("SELECT count(*) FROM job_exe WHERE task_id = ANY(:ids)"), {"ids": list(live)}
            ).scalar()
        pid, rss, hwm = scheduler_memory(r)
        return Sample(
            time.time(), metrics, jobs, len(running), in_flight, len(live) - known, rss, hwm, pid, cpu_seconds(r)
        )


def master_job_tasks(sim_port: int) -> tuple[set[str], set[str]]:
    """Job task ids the master runs (or stages), and those it lists as completed (its last 1,000)."""
    state = get_json(f"http://127.0.0.1:{sim_port}/master/frameworks")  # /master/state would add 10,000 agents
    live, completed = set(), set()
    for framework in state["frameworks"]:
        live.update(t["id"] for t in framework.get("tasks", []) if t["id"].startswith("scale-job-"))
        completed.update(t["id"] for t in framework.get("completed_tasks", []) if t["id"].startswith("scale-job-"))
    return live, completed


def cpu_seconds(r) -> dict[str, float]:
    """CPU seconds used so far by the scheduler (keyed by its pid: a restart is a new process), the
    simulator, PostgreSQL (the postmaster with the children it reaped, and its live children), RabbitMQ
    and this bench; and the machine's busy and total CPU seconds (all cores), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    used: dict[str, float] = {}
    for name, proc in (("scheduler", r.scheduler), ("simulator", r.sim)):
        stat = _proc_stat(proc.pid) if proc is not None and proc.poll() is None else None
        if stat is not None:
            used[name if name != "scheduler" else f"scheduler:{proc.pid}"] = (stat.utime + stat.stime) / tick
    if r.scheduler is not None and r.scheduler.poll() is None:
        times = thread_run_times(r.scheduler.pid, r.scheduler.pid)
        if times is not None:
            used[f"{LOOP_ON_CPU}:{r.scheduler.pid}"], used[f"{LOOP_WAITING}:{r.scheduler.pid}"] = times
    postgres = rabbitmq = 0
    for entry in os.listdir("/proc"):
        stat = _proc_stat(int(entry)) if entry.isdigit() else None
        if stat is None:
            continue
        if stat.comm == "postgres":
            # Only the postmaster (whose parent is not postgres) adds the time of the children it reaped.
            parent = _proc_stat(stat.ppid)
            reaped = stat.cutime + stat.cstime if parent is None or parent.comm != "postgres" else 0
            postgres += stat.utime + stat.stime + reaped
        elif stat.comm in ("beam.smp", "erl_child_setup"):
            rabbitmq += stat.utime + stat.stime
    used["postgres"], used["rabbitmq"] = postgres / tick, rabbitmq / tick
    me = os.times()
    used["bench"] = me.user + me.system
    with open("/proc/stat") as stat_file:
        cpu = [int(v) for v in stat_file.readline().split()[1:]]
    idle = cpu[3] + cpu[4]  # idle and iowait
    used["machine_total"], used["machine_busy"] = sum(cpu[:8]) / tick, (sum(cpu[:8]) - idle) / tick
    return used


# The scheduler's main thread (its event loop): seconds on a core, and seconds runnable but waiting for
# one (another process or thread had it). The rest of the wall time it slept: idle in its select, or
# waiting for the GIL or a lock. A step of the loop lasts its CPU plus such waits.
LOOP_ON_CPU = "scheduler_loop_thread_on_cpu"
LOOP_WAITING = "scheduler_loop_thread_waiting_for_a_core"


def thread_run_times(pid: int, tid: int) -> tuple[float, float] | None:
    """A thread's seconds on a core and seconds waiting in a run queue (``/proc/PID/task/TID/schedstat``,
    nanoseconds); None when the thread is gone or the kernel keeps no such figures."""
    try:
        with open(f"/proc/{pid}/task/{tid}/schedstat") as stat_file:
            fields = stat_file.read().split()
        return int(fields[0]) / 1e9, int(fields[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class ProcStat:
    comm: str
    ppid: int
    utime: int  # clock ticks
    stime: int
    cutime: int  # of the children it waited for
    cstime: int


def _proc_stat(pid: int) -> ProcStat | None:
    """A process's name, parent and CPU times from /proc/PID/stat; None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat_file:
            line = stat_file.read()
    except OSError:
        return None
    fields = line[line.rindex(")") + 2 :].split()  # the name, in parentheses, may hold spaces
    return ProcStat(line[line.index("(") + 1 : line.rindex(")")], int(fields[1]), *(int(v) for v in fields[11:15]))


def scheduler_memory(r) -> tuple[int | None, int | None, int | None]:
    """The running scheduler's pid, RSS and peak RSS (kB); all None while it is not running."""
    pid = r.scheduler.pid if r.scheduler is not None and r.scheduler.poll() is None else None
    if pid is None:
        return None, None, None
    return (pid, *memory_kb(pid))


def memory_kb(pid: int) -> tuple[int | None, int | None]:
    """Resident memory now, and its peak (VmHWM), of a process."""
    values = {}
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    values[key] = int(rest.split()[0])
    except OSError:
        return None, None
    return values.get("VmRSS"), values.get("VmHWM")
