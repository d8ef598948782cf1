"""A burst at scale (``make bench-scale``): ``python -m bench.scale [--agents 10000] [--jobs 100000]
[--kill-at 0.4] [--slow-master-ms 200]``.

The simulator (N agents), the scheduler, PostgreSQL and RabbitMQ run as separate processes, started
by ``bench.workload.Run``; the jobs are published as messages of 10,000 (100,000 jobs: 10 messages)
while a client polls ``/v6/status/`` with ``Accept-Encoding: gzip`` every 100 ms throughout. Reported:

- jobs stored per second from the queue (publication of the first message to the last job stored);
- first tries placed per second (95 % of them, from their recorded launch times; each is recorded
  before its ACCEPT, and a sample finding a task on the master that is not recorded fails the run);
- scheduling pass time p50/p99 while the queue held at least 90 % of the jobs, and over the burst
  (``scale_scheduler_scheduling_pass_seconds``; reported missing when the scheduler does not feed it);
- event loop lag p50/p99 over the burst and its maximum (``scale_scheduler_event_loop_lag_*``);
- the garbage collector's pauses per generation (count, total, how many over 100 ms);
- status latency p50/p99 and the status' maximum age (now minus its ``timestamp``) as the client saw it;
- the scheduler's peak RSS (VmHWM; per process when it was killed and restarted);
- where the machine's CPU went over the burst: seconds and average cores of the scheduler, the
  simulator, PostgreSQL, RabbitMQ and the bench itself, and the machine's busy share (from /proc);
  and the scheduler's event-loop thread: its share of the wall time on a core, waiting for one (the
  machine busy with other work), and asleep (idle, or waiting for the GIL its other threads held);
- the status build's last, unbroken step on the loop (``scale_scheduler_status_build_seconds``) p50/p99;
- calls to the master: how many, and p50/p99 of their wait for a worker and of their answer;
- scheduling cycles by why new launches waited (``scale_scheduler_scheduling_cycles``: records or
  calls to the master behind), next to the share of samples with launches held;
- while jobs are queued: the share of samples with an offer in hand, the share starved (no offer, no
  launch in flight, none held: placement waits for offers alone), and the tries running on average;
- launches in flight, at most: tries recorded RUNNING that the master neither runs nor lists as
  completed, checked every 5 s (the master's frameworks and tasks are read for it), and the scheduler's own
  largest count (``scale_scheduler_launches_in_flight_most``);
- with ``--kill-at``, a ``kill -9`` once that share of the jobs has ended, a restart, and the SYSTEM
  failures of tries started before the kill and ended after it; every job must end exactly once.

``--turn-probe`` has the scheduler note the event loop's slow turns (``bench/turn_probe``) and reports
them over the burst (``slow_turns``): how many, their time in all, the collector's share, and the
callbacks that took it, to say which work made the loop late. ``--gc-census`` has it count, every
third middle collection, what the collector's middle generation holds by type (``gc_census``: the
generation's size and the commonest types), to say what to keep out of the collector's sight; its
walk costs the loop as much as the collection, so such a run's other figures compare with no other.

``--slow-master-ms`` asks the simulator for that latency per call (``PUT /sim/master/latency``) and
reports it missing when the simulator does not answer it. Results go to bench/results/ as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import tempfile
import time
import urllib.error
from collections import Counter
from pathlib import Path

from sqlalchemy import text

from bench.__main__ import machine
from bench.scale_probes import (
    FINAL,
    LOOP_ON_CPU,
    LOOP_WAITING,
    Sampler,
    StatusPoller,
    gauge,
    histogram,
    histogram_delta,
    histogram_quantile,
    labelled_counts,
    labelled_totals,
    quantile,
)
from bench.workload import JOB_TYPE, MAX_JOBS_PER_MESSAGE, Run, _Kept, cli, code_version, post_json
from scheduler.config import load_settings
from scheduler.jobs.messages import build_queue_jobs_for
from scheduler.messaging.producer import CommandProducer

LAG = "scale_scheduler_event_loop_lag_seconds"
LAG_MAX = "scale_scheduler_event_loop_lag_recent_max_seconds"
GC = "scale_scheduler_gc_pause_seconds"
GC_COLLECTED = "scale_scheduler_gc_collected_objects"
PASS = "scale_scheduler_scheduling_pass_seconds"
IN_FLIGHT_MOST = "scale_scheduler_launches_in_flight_most"
HELD = "scale_scheduler_launches_held"
OFFERS_HELD = "scale_scheduler_offers_held"
IN_FLIGHT = "scale_scheduler_launches_in_flight"
TRIES_RUNNING = "scale_scheduler_tries_running"
CYCLES = "scale_scheduler_scheduling_cycles"
CALL_QUEUED = "scale_scheduler_master_call_queued_seconds"
STATUS_BUILD = "scale_scheduler_status_build_seconds"
CALL_ANSWERED = "scale_scheduler_master_call_seconds"


def ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


def slow_master(sim_port: int, latency_ms: float) -> str:
    try:
        post_json(f"http://127.0.0.1:{sim_port}/sim/master/latency", {"ms": latency_ms}, method="PUT")
    except urllib.error.HTTPError as exc:
        if exc.code in (404, 405):
            return "missing: the simulator does not answer PUT /sim/master/latency"
        return f"refused: HTTP {exc.code}"
    return f"{latency_ms:g} ms per call"


def publish(env: dict, jobs: int) -> list[str]:
    """The jobs as messages of at most 10,000, over one broker connection, as `jobs submit` sends them."""
    settings = load_settings(env)
    ids = []
    with CommandProducer(settings) as producer:
        for first in range(0, jobs, MAX_JOBS_PER_MESSAGE):
            message = build_queue_jobs_for("bench-work", "1", count=min(MAX_JOBS_PER_MESSAGE, jobs - first))
            producer.publish(message)
            ids.append(message.id)
    return ids


def burst(r: Run, args, report: dict, failures: list[str]) -> tuple[float, float | None, list]:
    """Publish, watch until every job has ended (killing once if asked); returns the publication
    time, the kill time and the samples."""
    poller = StatusPoller(r.api + "/v6/status/")
    sampler = Sampler(r, interval_s=args.sample_s)
    before = sampler.sample()
    poller.start()
    sampler.start()
    published = time.time()
    report["message_ids"] = publish(r.env, args.jobs)
    report["publish_s"] = round(time.time() - published, 2)
    killed_at = None
    try:
        while True:
            counts = r.job_counts()
            done = sum(counts[s] for s in FINAL)
            if args.kill_at is not None and killed_at is None and done >= args.kill_at * args.jobs:
                report["kill"] = {"peak_rss_mb_before": peak_rss_mb(sampler.samples, r.scheduler.pid)}
                r.scheduler.send_signal(signal.SIGKILL)
                r.scheduler.wait()
                killed_at = time.time()
                report["kill"].update(jobs_done=done, tries_recorded_running=counts["RUNNING"])
                r.start_scheduler()
                r.wait_ready(300)
                report["kill"]["ready_after_s"] = round(time.time() - killed_at, 1)
            if done == args.jobs and sum(counts.values()) == args.jobs:
                break
            if time.time() - published > args.timeout:
                failures.append(f"timed out with jobs {dict(counts)}")
                break
            time.sleep(0.5)
    finally:
        report["burst_s"] = round(time.time() - published, 1)
        sampler.stop()
        poller.stop()
    report["status"] = {
        "polls": len(poller.latencies),
        "errors": poller.errors,
        "content_encodings": sorted(poller.encodings),
        "latency_p50_ms": ms(quantile(poller.latencies, 0.5)),
        "latency_p99_ms": ms(quantile(poller.latencies, 0.99)),
        "latency_max_ms": ms(max(poller.latencies, default=None)),
        "age_max_s": round(max(poller.ages), 2) if poller.ages else None,
    }
    report["_status_ages"] = list(zip(poller.answered_at, poller.ages, strict=True))  # for the timeline
    if sampler.failures:
        report["sample_failures"] = sampler.failures[:5]
    return published, killed_at, [before, *sampler.samples]


def peak_rss_mb(samples: list, pid: int) -> float | None:
    marks = [s.hwm_kb for s in samples if s.pid == pid and s.hwm_kb]
    return round(max(marks) / 1024, 1) if marks else None


def timeline(by_pid: dict[int, list], every_s: float = 10.0, status_ages: list | None = None) -> list[dict]:
    """Per ``every_s`` of the run: jobs ended, loop timers over 50 ms and 200 ms late, time in the
    collector, how often launches were held and the status' oldest age read (``status_ages``: (epoch
    seconds, age) pairs); where in a run the lag is (the burst's start, its end, the restart)."""
    first = min(runs[0].at for runs in by_pid.values())
    status_ages = status_ages or []
    rows = []
    for runs in by_pid.values():
        start, window = runs[0], []
        lag_before = histogram(start.metrics, LAG)
        gc_before = sum(v[1] for v in labelled_totals(start.metrics, GC, "generation", "0.1").values())
        for sample in runs[1:]:
            window.append(sample)
            if sample.at - start.at < every_s and sample is not runs[-1]:
                continue
            lag_after = histogram(sample.metrics, LAG)
            gc_after = sum(v[1] for v in labelled_totals(sample.metrics, GC, "generation", "0.1").values())
            lag = histogram_delta(lag_before, lag_after)
            total = lag.get(float("inf"), 0.0)
            rows.append(
                {
                    "t_s": round(sample.at - first, 1),
                    "ended": sum(sample.jobs.get(s, 0) for s in FINAL) - sum(start.jobs.get(s, 0) for s in FINAL),
                    "lag_over_50ms": int(total - lag.get(0.05, 0.0)),
                    "lag_over_200ms": int(total - lag.get(0.2, 0.0)),
                    "gc_s": round(gc_after - gc_before, 2),
                    "held_pct": held_pct(window),
                    "status_age_max_s": max(
                        (round(age, 2) for at, age in status_ages if start.at < at <= sample.at), default=None
                    ),
                }
            )
            start, window, lag_before, gc_before = sample, [], lag_after, gc_after
    return rows


def cpu_use(samples: list) -> dict:
    """Where the machine's CPU went between the first and the last sample: seconds per process (a
    restarted scheduler is a second process) and the average cores each kept busy; the machine's busy share."""
    with_cpu = [s for s in samples if s.cpu]
    if len(with_cpu) < 2:
        return {"missing": "fewer than two samples of /proc"}
    first, last = with_cpu[0], with_cpu[-1]
    wall = last.at - first.at
    used: Counter = Counter()
    for key in {k for s in with_cpu for k in s.cpu}:
        values = [s.cpu[key] for s in with_cpu if key in s.cpu]
        used[key.split(":")[0]] += values[-1] - values[0]
    machine_total, machine_busy = used.pop("machine_total"), used.pop("machine_busy")
    on_cpu, waiting = used.pop(LOOP_ON_CPU, None), used.pop(LOOP_WAITING, None)
    report = {name: {"cpu_s": round(v, 1), "cores": round(v / wall, 2)} for name, v in sorted(used.items())}
    if on_cpu is not None and waiting is not None and wall > 0:
        report["scheduler_loop_thread"] = {
            "on_cpu_pct": round(100 * on_cpu / wall, 1),
            "waiting_for_a_core_pct": round(100 * waiting / wall, 1),
            # Idle in its select, or waiting for the GIL (held by the scheduler's other threads).
            "asleep_pct": round(100 * max(0.0, wall - on_cpu - waiting) / wall, 1),
            "other_threads_cores": round(max(0.0, used["scheduler"] - on_cpu) / wall, 2),
        }
    report["machine_busy_pct"] = round(100 * machine_busy / machine_total, 1) if machine_total else None
    report["over_s"] = round(wall, 1)
    return report


def hold_reasons(by_pid: dict[int, list]) -> dict[str, int]:
    """Scheduling cycles by why new launches waited (``none``: they did not), summed over processes."""
    cycles: Counter = Counter()
    for runs in by_pid.values():
        before, after = labelled_counts(runs[0].metrics, CYCLES), labelled_counts(runs[-1].metrics, CYCLES)
        cycles.update({reason: int(n - before.get(reason, 0.0)) for reason, n in after.items()})
    return dict(cycles)


def over_run(by_pid: dict[int, list], name: str) -> Counter:
    """A histogram's buckets over the run: per process (a restart starts it again), first to last sample."""
    total: Counter = Counter()
    for runs in by_pid.values():
        total.update(histogram_delta(histogram(runs[0].metrics, name), histogram(runs[-1].metrics, name)))
    return total


def master_calls(by_pid: dict[int, list]) -> dict:
    """Calls to the master over the run: how long they waited for a worker, and for their answer."""
    queued, answered = over_run(by_pid, CALL_QUEUED), over_run(by_pid, CALL_ANSWERED)
    if not answered:
        return {"missing": f"the scheduler's /metrics has no {CALL_ANSWERED}"}
    return {
        "calls": int(answered.get(float("inf"), 0.0)),
        "queued_p50_ms": ms(histogram_quantile(dict(queued), 0.5)),
        "queued_p99_ms": ms(histogram_quantile(dict(queued), 0.99)),
        "answered_p50_ms": ms(histogram_quantile(dict(answered), 0.5)),
        "answered_p99_ms": ms(histogram_quantile(dict(answered), 0.99)),
    }


def held_pct(samples: list) -> float | None:
    """The share of samples in which launches were held (records or acknowledgements behind)."""
    held = [v for s in samples if s.metrics for v in [gauge(s.metrics, HELD)] if v is not None]
    return round(100 * sum(1 for v in held if v) / len(held), 1) if held else None


def offers_while_queued(samples: list) -> dict:
    """Over the samples with jobs queued: the share with an offer in hand, the share starved (no offer,
    no launch in flight, none held: placement waits for offers alone), and the tries running on
    average. A scheduler that declined nearly every agent at once idles so for the filter's length."""
    rows = []
    for sample in samples:
        if not sample.metrics or not sample.jobs.get("QUEUED"):
            continue
        offers = gauge(sample.metrics, OFFERS_HELD)
        in_flight = gauge(sample.metrics, IN_FLIGHT)
        held = gauge(sample.metrics, HELD)
        running = gauge(sample.metrics, TRIES_RUNNING)
        if None not in (offers, in_flight, held, running):
            rows.append((offers, in_flight, held, running))
    if not rows:
        return {"missing": "no sample with jobs queued and the scheduler's offer gauges"}
    return {
        "samples": len(rows),
        "offer_in_hand_pct": round(100 * sum(1 for o, _, _, _ in rows if o) / len(rows), 1),
        "starved_pct": round(100 * sum(1 for o, f, h, _ in rows if not (o or f or h)) / len(rows), 1),
        "tries_running_mean": round(sum(r for _, _, _, r in rows) / len(rows)),
    }


def runtime_metrics(samples: list, jobs: int, report: dict, failures: list[str]) -> None:
    # Histograms restart with a restarted scheduler: deltas are taken per process.
    by_pid: dict[int, list] = {}
    for sample in samples:
        if sample.pid is not None and sample.metrics:
            by_pid.setdefault(sample.pid, []).append(sample)
    lag_total, pass_total, pass_full = over_run(by_pid, LAG), over_run(by_pid, PASS), Counter()
    for runs in by_pid.values():
        full = [s for s in runs if s.jobs.get("QUEUED", 0) >= 0.9 * jobs]
        if len(full) >= 2:
            pass_full.update(histogram_delta(histogram(full[0].metrics, PASS), histogram(full[-1].metrics, PASS)))
    lag_max = [v for s in samples if s.metrics for v in [gauge(s.metrics, LAG_MAX)] if v is not None]
    measured = lag_total.get(float("inf"), 0.0)
    report["loop_lag"] = {
        "p50_ms": ms(histogram_quantile(dict(lag_total), 0.5)),
        "p99_ms": ms(histogram_quantile(dict(lag_total), 0.99)),
        "max_ms": ms(max(lag_max, default=None)),
        "samples": int(measured),
        # Exact, as 50 ms and 200 ms are bucket bounds: the share of the loop's timers that late.
        "over_50ms_pct": round(100 * (measured - lag_total.get(0.05, 0.0)) / measured, 2) if measured else None,
        "over_200ms_pct": round(100 * (measured - lag_total.get(0.2, 0.0)) / measured, 2) if measured else None,
    }
    status_ages = report.pop("_status_ages", [])
    report["timeline"] = timeline(by_pid, status_ages=status_ages)
    if status_ages and by_pid:
        at, _ = max(status_ages, key=lambda pair: pair[1])
        first = min(runs[0].at for runs in by_pid.values())
        report["status"]["age_max_at_s"] = round(at - first, 1)  # counted as the timeline's t_s
    if not lag_total:
        report["loop_lag"]["missing"] = f"the scheduler's /metrics has no {LAG}"
    # The collector's pauses over the run, per generation: what part of the lag is Python's GC.
    collected: dict[str, Counter] = {}
    for runs in by_pid.values():
        first = labelled_totals(runs[0].metrics, GC, "generation", "0.1")
        for generation, (count, total, slow) in labelled_totals(runs[-1].metrics, GC, "generation", "0.1").items():
            count0, total0, slow0 = first.get(generation, (0.0, 0.0, 0.0))
            collected.setdefault(generation, Counter()).update(
                collections=count - count0, total_s=total - total0, over_100ms=slow - slow0
            )
    freed: Counter = Counter()
    for runs in by_pid.values():
        before, after = labelled_counts(runs[0].metrics, GC_COLLECTED), labelled_counts(runs[-1].metrics, GC_COLLECTED)
        freed.update({g: n - before.get(g, 0.0) for g, n in after.items()})
    report["gc_pauses"] = {
        f"generation_{g}": {
            "collections": int(d["collections"]),
            "total_s": round(d["total_s"], 2),
            "over_100ms": int(d["over_100ms"]),
            "objects_freed": int(freed[g]),
        }
        for g, d in sorted(collected.items())
    }
    passes = max(pass_total.values(), default=0)
    report["scheduling_pass"] = {
        "passes": int(passes),
        "p50_ms": ms(histogram_quantile(dict(pass_total), 0.5)),
        "p99_ms": ms(histogram_quantile(dict(pass_total), 0.99)),
        "at_90pct_queued_passes": int(max(pass_full.values(), default=0)),
        "at_90pct_queued_p50_ms": ms(histogram_quantile(dict(pass_full), 0.5)),
        "at_90pct_queued_p99_ms": ms(histogram_quantile(dict(pass_full), 0.99)),
        "max_queued_seen": max((s.jobs.get("QUEUED", 0) for s in samples), default=0),
    }
    if not passes:
        report["scheduling_pass"]["missing"] = f"the scheduler does not feed {PASS}"
    report["launches_held_pct"] = held_pct(samples)
    report["offers_while_queued"] = offers_while_queued(samples)
    report["cycles_by_launch_hold"] = hold_reasons(by_pid)
    report["master_calls"] = master_calls(by_pid)
    builds = over_run(by_pid, STATUS_BUILD)
    report["status_build"] = {
        "builds": int(builds.get(float("inf"), 0.0)),
        "p50_ms": ms(histogram_quantile(dict(builds), 0.5)),
        "p99_ms": ms(histogram_quantile(dict(builds), 0.99)),
    }
    report["cpu"] = cpu_use(samples)
    report["launches_in_flight_max"] = max((s.in_flight for s in samples if s.in_flight is not None), default=None)
    # The scheduler's own count (its largest since it started, per process), next to the sampled one.
    own = [v for s in samples if s.metrics for v in [gauge(s.metrics, IN_FLIGHT_MOST)] if v is not None]
    report["launches_in_flight_most_by_scheduler"] = int(max(own)) if own else None
    report["tries_recorded_running_max"] = max((s.recorded_running for s in samples), default=None)
    unrecorded = max((s.unrecorded_on_master for s in samples if s.unrecorded_on_master is not None), default=0)
    if unrecorded:
        failures.append(f"{unrecorded} tasks were on the master without a recorded try")
    report["peak_rss_mb"] = {str(pid): peak_rss_mb(samples, pid) for pid in by_pid}


def outcomes(r: Run, jobs: int, published: float, killed_at: float | None, report: dict, failures: list) -> None:
    with r.db.connect() as connection:
        queued = [row[0].timestamp() for row in connection.execute(text("SELECT queued FROM job"))]
        exes = connection.execute(
            text("SELECT job_id, exe_num, status, error_category, started, ended FROM job_exe")
        ).all()
        tries = dict(connection.execute(text("SELECT id, num_exes FROM job")).all())
    if queued:
        span = max(max(queued) - published, 1e-3)
        report["jobs_stored_per_s"] = round(len(queued) / span)
        report["jobs_stored_in_s"] = round(span, 2)
    firsts = sorted(row.started.timestamp() for row in exes if row.exe_num == 1)
    if len(firsts) > 1:
        n = int(0.95 * (len(firsts) - 1))
        span = firsts[n] - firsts[0]
        # A pass records its tries with its own time: 95 % within 50 ms means one or two passes,
        # too short a span to divide by.
        report["first_tries_placed_per_s"] = round(n / span) if span >= 0.05 else None
        report["first_tries_95pct_placed_in_s"] = round(span, 3)
    per_job = Counter(row.job_id for row in exes)
    if any(per_job[job] != n for job, n in tries.items()) or len(tries) != jobs:
        failures.append("the tries recorded do not match the jobs' try counts")
    report["executions_by_outcome"] = dict(Counter(f"{row.status} {row.error_category or ''}".strip() for row in exes))
    if killed_at is not None:
        crossed = [
            row
            for row in exes
            if row.status == "FAILED"
            and row.error_category == "SYSTEM"
            and row.started.timestamp() < killed_at
            and row.ended is not None
            and row.ended.timestamp() > killed_at
        ]
        report["kill"]["system_failures_across_the_kill"] = len(crossed)


TURN_PROBE_DIR = Path(__file__).parent / "turn_probe"


def turn_probe_env(env: dict, workdir: str) -> dict[str, str]:
    """The scheduler's environment additions for ``--turn-probe``: its sitecustomize first on the path."""
    path = [str(TURN_PROBE_DIR), *filter(None, [env.get("PYTHONPATH")])]
    return {"PYTHONPATH": os.pathsep.join(path), "BENCH_TURN_PROBE": str(Path(workdir) / "turns")}


def gc_census_env(workdir: str, every: int = 3) -> dict[str, str]:
    """The scheduler's environment additions for ``--gc-census`` (with ``turn_probe_env``'s path)."""
    return {"BENCH_GC_CENSUS": str(Path(workdir) / "census"), "BENCH_GC_CENSUS_EVERY": str(every)}


def gc_census(lines: list[str], began: float, ended: float, top: int = 12) -> dict:
    """The census' counts between ``began`` and ``ended`` (wall clock): how many censuses, the middle
    generation's size (least, median, most), and the commonest types by their mean count per census."""
    counts = [line for line in map(json.loads, lines) if began <= line["t"] <= ended]
    sizes = sorted(line["objects"] for line in counts)
    by_type: Counter = Counter()
    for line in counts:
        by_type.update(dict(line["types"]))
    return {
        "censuses": len(counts),
        "objects": {"least": sizes[0], "median": sizes[len(sizes) // 2], "most": sizes[-1]} if sizes else None,
        "types_mean": {name: round(total / len(counts)) for name, total in by_type.most_common(top)},
    }


def slow_turns(lines: list[str], began: float, ended: float, top: int = 8) -> dict:
    """The probe's slow turns between ``began`` and ``ended`` (wall clock): how many, their time, the
    collector's share of it, and per callback (a task by its coroutine) the time it took in them,
    in how many turns, and in how many it was the longest."""
    turns = [turn for turn in map(json.loads, lines) if began <= turn["t"] <= ended]
    by_callback: dict[str, dict] = {}
    for turn in turns:
        for rank, (ms, _gc_ms, name) in enumerate(turn["longest"]):
            entry = by_callback.setdefault(name, {"ms": 0.0, "turns": 0, "longest_in": 0})
            entry["ms"] += ms
            entry["turns"] += 1
            entry["longest_in"] += rank == 0
    ranked = sorted(by_callback.items(), key=lambda item: -item[1]["ms"])[:top]
    in_all_ms = sum(turn["ms"] for turn in turns)
    return {
        "turns": len(turns),
        "over_100ms": sum(turn["ms"] > 100 for turn in turns),
        "in_all_s": round(in_all_ms / 1000, 2),
        "share_of_burst_pct": round(100 * in_all_ms / 1000 / (ended - began), 1) if ended > began else None,
        "collector_s": round(sum(turn["gc_ms"] for turn in turns) / 1000, 2),
        "by_callback": {name: entry | {"ms": round(entry["ms"], 1)} for name, entry in ranked},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=100_000)
    # Room for every first try at once (as in the README's throughput run): placement, not the
    # cluster's size, sets the pace. Smaller agents keep the queue full for longer instead.
    parser.add_argument("--agent-cpus", type=float, default=16.0)
    parser.add_argument("--agent-mem", type=float, default=65536.0)
    parser.add_argument("--job-cpus", type=float, default=0.1)
    parser.add_argument("--job-mem", type=float, default=32.0)
    parser.add_argument("--kill-at", type=float, help="kill -9 the scheduler when this share of the jobs has ended")
    parser.add_argument("--slow-master-ms", type=float, help="ask the simulator for this latency per call")
    parser.add_argument("--sample-s", type=float, default=1.0, help="seconds between samples of metrics and counts")
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument(
        "--turn-probe", action="store_true", help="note the scheduler's slow event-loop turns (bench/turn_probe)"
    )
    parser.add_argument(
        "--gc-census",
        action="store_true",
        help="count by type what the collector's middle generation holds, every third middle collection (bench/turn_probe)",
    )
    args = parser.parse_args()
    if not 1 <= args.agents <= 100_000 or not 1 <= args.jobs <= 1_000_000:
        parser.error("--agents must be 1..100000 and --jobs 1..1000000")
    if args.kill_at is not None and not 0 < args.kill_at < 1:
        parser.error("--kill-at must be between 0 and 1")
    report: dict = {
        "machine": machine(),
        "code": code_version(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    report["args"] = vars(args)
    failures: list[str] = []
    keep = os.environ.get("BENCH_WORKDIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() if not keep else _Kept(keep) as workdir,
        Run(args.agents, args.jobs, workdir, args.agent_cpus, args.agent_mem) as r,
    ):
        r.start_sim()
        if args.turn_probe or args.gc_census:
            r.scheduler_env = turn_probe_env(r.env, workdir)
            if not args.turn_probe:
                del r.scheduler_env["BENCH_TURN_PROBE"]
            if args.gc_census:
                r.scheduler_env |= gc_census_env(workdir)
        job_types = Path(workdir) / "job-types.yaml"
        job_types.write_text(JOB_TYPE.format(cpus=args.job_cpus, mem=args.job_mem))
        cli(r.env, "job-types", "apply", str(job_types))
        started = time.time()
        r.start_scheduler()
        # 99 %: a node stuck on its way to READY is reported, not waited for.
        document = r.wait_status(
            lambda d: sum(n["state"]["name"] == "READY" for n in d["nodes"]) >= 0.99 * args.agents, 900
        )
        report["nodes_ready_s"] = round(time.time() - started, 1)
        not_ready = Counter(n["state"]["name"] for n in document["nodes"] if n["state"]["name"] != "READY")
        report["nodes_not_ready_at_start"] = dict(not_ready) | {"missing": args.agents - len(document["nodes"])}
        if args.slow_master_ms is not None:
            report["slow_master"] = slow_master(r.sim_port, args.slow_master_ms)
        published, killed_at, samples = burst(r, args, report, failures)
        runtime_metrics(samples, args.jobs, report, failures)
        outcomes(r, args.jobs, published, killed_at, report, failures)
        if args.turn_probe:
            lines = [line for path in Path(workdir).glob("turns.*.jsonl") for line in path.read_text().splitlines()]
            report["slow_turns"] = slow_turns(lines, published, published + report["burst_s"])
        if args.gc_census:
            lines = [line for path in Path(workdir).glob("census.*.jsonl") for line in path.read_text().splitlines()]
            report["gc_census"] = gc_census(lines, published, published + report["burst_s"])
    report["failures"] = failures
    out_dir = Path(__file__).parent / "results"
    out_dir.mkdir(exist_ok=True)
    path = out_dir / f"scale-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    print(f"results: {path}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
