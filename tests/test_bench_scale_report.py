"""bench-scale's report: offers while jobs wait (a starved scheduler, with no offer, nothing in flight,
nothing held and jobs queued, is told apart from one waiting for the master), and where the event
loop thread's wall time went."""

from __future__ import annotations

import os
import threading
import time

from bench.scale import cpu_use, offers_while_queued
from bench.scale_probes import LOOP_ON_CPU, LOOP_WAITING, Sample, thread_run_times


def metrics(offers: int, in_flight: int, held: int, running: int) -> str:
    return "".join(
        f"# TYPE scale_scheduler_{name} gauge\nscale_scheduler_{name} {value}\n"
        for name, value in (
            ("offers_held", offers),
            ("launches_in_flight", in_flight),
            ("launches_held", held),
            ("tries_running", running),
        )
    )


def sample(queued: int, text: str) -> Sample:
    return Sample(0.0, text, {"QUEUED": queued}, 0, None, None, None, None, 1)


def test_samples_with_jobs_queued_tell_offers_in_hand_from_starved():
    samples = [
        sample(100, metrics(5, 1500, 0, 9000)),  # offers kept for want of room
        sample(100, metrics(0, 1500, 0, 11000)),  # waiting for the master's answers
        sample(100, metrics(0, 0, 1, 8000)),  # held: acknowledgements behind
        sample(100, metrics(0, 0, 0, 2000)),  # starved: room, nothing held, no offer
        sample(0, metrics(0, 0, 0, 0)),  # nothing queued: not counted
        sample(100, ""),  # the scheduler restarting: no metrics
    ]
    assert offers_while_queued(samples) == {
        "samples": 4,
        "offer_in_hand_pct": 25.0,
        "starved_pct": 25.0,
        "tries_running_mean": 7500,
    }
    assert "missing" in offers_while_queued(samples[4:])


def cpu_sample(at: float, cpu: dict[str, float]) -> Sample:
    return Sample(at, "", {}, 0, None, None, None, None, 1, cpu)


def test_the_loop_threads_wall_time_is_split_into_on_a_core_waiting_for_one_and_asleep():
    machine = {"machine_total": 0.0, "machine_busy": 0.0}
    samples = [
        cpu_sample(0.0, {**machine, "scheduler:7": 10.0, f"{LOOP_ON_CPU}:7": 8.0, f"{LOOP_WAITING}:7": 1.0}),
        cpu_sample(
            100.0,
            {"machine_total": 200.0, "machine_busy": 170.0, "scheduler:7": 80.0, f"{LOOP_ON_CPU}:7": 63.0}
            | {f"{LOOP_WAITING}:7": 21.0},
        ),
    ]
    report = cpu_use(samples)
    assert report["scheduler"] == {"cpu_s": 70.0, "cores": 0.7}
    assert report["scheduler_loop_thread"] == {
        "on_cpu_pct": 55.0,
        "waiting_for_a_core_pct": 20.0,
        "asleep_pct": 25.0,
        "other_threads_cores": 0.15,
    }
    assert report["machine_busy_pct"] == 85.0


def test_the_loop_threads_run_queue_figures_are_read_from_proc():
    before = thread_run_times(os.getpid(), threading.get_native_id())
    assert before is not None
    deadline = time.thread_time() + 0.05
    while time.thread_time() < deadline:
        pass
    after = thread_run_times(os.getpid(), threading.get_native_id())
    assert after[0] - before[0] >= 0.04  # on a core for the loop above
    assert after[1] >= before[1] >= 0.0
    assert thread_run_times(os.getpid(), 2**22 + 1) is None  # no such thread


def test_the_timeline_shows_the_status_oldest_age_in_each_window():
    from bench.scale import timeline

    runs = [Sample(100.0 + 5 * i, "", {}, 0, None, None, None, None, 7) for i in range(5)]  # 100..120 s
    ages = [(101.0, 0.4), (104.0, 1.9), (106.0, 0.3), (112.0, 10.35), (119.0, 0.5), (130.0, 99.0)]
    rows = timeline({7: runs}, every_s=10.0, status_ages=ages)
    assert [(row["t_s"], row["status_age_max_s"]) for row in rows] == [(10.0, 1.9), (20.0, 10.35)]
    assert [row["status_age_max_s"] for row in timeline({7: runs}, every_s=10.0)] == [None, None]


def test_the_bench_runs_and_names_the_code_of_its_own_tree():
    """Run from elsewhere with PYTHONPATH set, `python -m` once ran the working directory's scheduler."""
    from pathlib import Path

    from bench.workload import CODE_ROOT, code_version

    assert CODE_ROOT == Path(__file__).resolve().parents[1]
    version = code_version()
    assert version["tree"] == str(CODE_ROOT)
    assert version["commit"] is None or len(version["commit"]) >= 7


PROBED_PROGRAM = """
import asyncio, gc, time

def slow_callback():
    time.sleep(0.06)

async def busy_task():
    time.sleep(0.05)
    gc.collect()

async def main():
    asyncio.get_running_loop().call_soon(slow_callback)
    await asyncio.sleep(0.01)
    await asyncio.create_task(busy_task(), name="busy")
    for _ in range(20):
        await asyncio.sleep(0)  # quick turns: not written

asyncio.run(main())
"""


def test_the_turn_probe_notes_the_loops_slow_turns_and_what_took_them(tmp_path):
    """The probe is loaded as the scheduler would load it (sitecustomize through PYTHONPATH) into a
    real interpreter whose loop has one slow callback and one slow task."""
    import json
    import subprocess
    import sys

    from bench.scale import turn_probe_env

    env = {**os.environ, "PYTHONPATH": ""}
    env |= turn_probe_env(env, str(tmp_path))
    subprocess.run([sys.executable, "-c", PROBED_PROGRAM], env=env, check=True, timeout=60)
    (path,) = tmp_path.glob("turns.*.jsonl")
    turns = [json.loads(line) for line in path.read_text().splitlines()]
    assert [turn["longest"][0][2] for turn in turns] == ["slow_callback", "task busy_task (busy)"]
    assert all(turn["ms"] >= 40 and turn["ms"] >= turn["longest"][0][0] for turn in turns)
    assert turns[0]["gc_ms"] == 0 and turns[1]["gc_ms"] > 0  # the collection ran inside the task
    without = {**os.environ, "PYTHONPATH": str(tmp_path / "elsewhere")}
    subprocess.run([sys.executable, "-c", PROBED_PROGRAM], env=without, check=True, timeout=60)
    assert len(list(tmp_path.glob("turns.*.jsonl"))) == 1  # not loaded without --turn-probe


def test_slow_turns_are_summed_per_callback_within_the_burst():
    import json

    from bench.scale import slow_turns

    def turn(t, ms, gc_ms, *longest):
        return json.dumps({"t": t, "ms": ms, "callbacks": 9, "gc_ms": gc_ms, "longest": [list(x) for x in longest]})

    lines = [
        turn(5.0, 300.0, 0.0, (290.0, 0.0, "task start")),  # before the burst: not counted
        turn(11.0, 60.0, 20.0, (40.0, 20.0, "task Engine._consume"), (15.0, 0.0, "task MesosDriver._subscribe_once")),
        turn(12.0, 120.0, 0.0, (70.0, 0.0, "task MesosDriver._subscribe_once"), (30.0, 0.0, "task Engine._consume")),
    ]
    summary = slow_turns(lines, 10.0, 20.0)
    assert summary["turns"] == 2 and summary["over_100ms"] == 1
    assert summary["in_all_s"] == 0.18 and summary["share_of_burst_pct"] == 1.8 and summary["collector_s"] == 0.02
    assert summary["by_callback"] == {
        "task MesosDriver._subscribe_once": {"ms": 85.0, "turns": 2, "longest_in": 1},
        "task Engine._consume": {"ms": 70.0, "turns": 2, "longest_in": 1},
    }
    assert list(summary["by_callback"]) == ["task MesosDriver._subscribe_once", "task Engine._consume"]


CENSUS_PROGRAM = """
import gc

class Kept:
    pass

kept = [Kept() for _ in range(3000)]
gc.collect(0)  # the young generation's survivors go to the middle one
for _ in range(2):
    gc.collect(1)  # each middle collection is counted first
"""


def test_the_gc_census_counts_by_type_what_the_middle_generation_holds(tmp_path):
    """Loaded as the scheduler would load it, alone (no turn probe), one census per middle collection."""
    import json
    import subprocess
    import sys

    from bench.scale import gc_census_env, turn_probe_env

    env = {**os.environ, "PYTHONPATH": ""}
    env |= turn_probe_env(env, str(tmp_path))
    del env["BENCH_TURN_PROBE"]
    env |= gc_census_env(str(tmp_path), every=1)
    subprocess.run([sys.executable, "-c", CENSUS_PROGRAM], env=env, check=True, timeout=60)
    (path,) = tmp_path.glob("census.*.jsonl")
    censuses = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(censuses) == 2 and not list(tmp_path.glob("turns.*.jsonl"))
    first = dict(censuses[0]["types"])
    assert first["__main__.Kept"] == 3000 and censuses[0]["objects"] >= 3000
    assert "__main__.Kept" not in dict(censuses[1]["types"])  # the first collection moved them on


def test_the_gc_census_is_summed_within_the_burst():
    import json

    from bench.scale import gc_census

    def census(t, objects, *types):
        return json.dumps({"t": t, "objects": objects, "types": [list(x) for x in types]})

    lines = [
        census(5.0, 90_000, ("nodes.Node", 80_000)),  # before the burst: not counted
        census(11.0, 40_000, ("tasks.Task", 20_000), ("builtins.tuple", 10_000)),
        census(12.0, 10_000, ("tasks.Task", 4_000), ("functools.partial", 3_001)),
        census(13.0, 20_000, ("builtins.tuple", 8_000)),
    ]
    summary = gc_census(lines, 10.0, 20.0)
    assert summary["censuses"] == 3 and summary["objects"] == {"least": 10_000, "median": 20_000, "most": 40_000}
    assert summary["types_mean"] == {"tasks.Task": 8_000, "builtins.tuple": 6_000, "functools.partial": 1_000}
    assert gc_census([], 0.0, 1.0) == {"censuses": 0, "objects": None, "types_mean": {}}
