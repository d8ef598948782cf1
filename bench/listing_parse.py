"""How long the event loop's thread waits for the interpreter while a large listing of the master is
parsed in another thread: ``python -m bench.listing_parse [--agents 10000] [--tasks 15000] [--rounds 5]``.

Two listings: the simulator's own ``/master/slaves`` of ``--agents`` agents, and a ``/master/frameworks``
of one framework with ``--tasks`` tasks shaped as the simulator lists them. A thread busy in Python
stands for the event loop; it notes every gap between two of its steps while another thread parses
the listing (with the collector paused, as the driver does, and the interpreter switched between
threads every millisecond, as ``scale-scheduler run`` sets it), reads it and drops it: first with one
``orjson.loads`` (the baseline: the driver before), then as the driver does now
(``listing_json.loads_yielding``, then ``release_yielding``). Reported
per listing and way, each the median over the rounds (interleaved): the parse time, the busy thread's
longest gap and its gaps over 5 ms in all, with the ratios to the baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import threading
import time

import aiohttp
import orjson

from bench.__main__ import machine
from scheduler.mesos.driver import _parse_and_read_uncollected
from scheduler.runtime import thread_switching
from scheduler.sim.options import SimConfig
from scheduler.sim.server import serve_sim


async def fetch_listing(agents: int) -> bytes:
    handle = await serve_sim(SimConfig(agents=agents), "127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as session, session.get(handle.url + "/master/slaves") as resp:
            return await resp.read()
    finally:
        await handle.close()


def frameworks_listing(tasks: int) -> bytes:
    """A /master/frameworks of one framework running ``tasks`` tasks, each as the simulator lists one."""

    def task(n: int) -> dict:
        statuses = [
            {"state": state, "timestamp": 1796113631.8975153 + i}
            for i, state in enumerate(("TASK_STAGING", "TASK_STARTING", "TASK_RUNNING"))
        ]
        return {
            "id": f"scale-job-{n}-1",
            "name": f"bench 1.0 job {n}",
            "framework_id": "6513270e-269e-4d37-b2a7-4de452e6b438-0000",
            "executor_id": "",
            "slave_id": f"6513270e-269e-4d37-b2a7-4de452e6b438-S{n % 10_000}",
            "state": "TASK_RUNNING",
            "resources": {"cpus": 0.1, "disk": 0.0, "gpus": 0.0, "mem": 32.0},
            "role": "*",
            "statuses": statuses,
            "labels": [{"key": "scale.job_id", "value": str(n)}, {"key": "scale.job_type", "value": "bench:1.0"}],
        }

    framework = {"id": "6513270e-269e-4d37-b2a7-4de452e6b438-0000", "name": "scale", "active": True}
    framework |= {"tasks": [task(n) for n in range(tasks)], "completed_tasks": [], "unreachable_tasks": []}
    return orjson.dumps({"frameworks": [framework], "completed_frameworks": [], "unregistered_frameworks": []})


def orjson_uncollected(body: bytes) -> int:
    """The driver before: one ``orjson.loads``, a read (here ``len``), the document dropped at once."""
    gc.disable()
    try:
        return len(orjson.loads(body))
    finally:
        gc.enable()


def gaps_while(parse) -> tuple[float, float, float]:
    """(seconds the parse took in a thread, the busy main thread's longest gap meanwhile, and its gaps
    over 5 ms in all). The gaps are not kept: growing a list of millions would be gaps of its own."""
    done = threading.Event()
    took: list[float] = []

    def parse_in_thread() -> None:
        started = time.perf_counter()
        parse()
        took.append(time.perf_counter() - started)
        done.set()

    worker = threading.Thread(target=parse_in_thread)
    longest = over = 0.0
    last = time.perf_counter()
    worker.start()
    while not done.is_set():
        now = time.perf_counter()
        gap = now - last
        last = now
        if gap > 0.005:
            over += gap
            longest = max(longest, gap)
    worker.join()
    return took[0], longest, over


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--tasks", type=int, default=15_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    thread_switching.switch_often()
    listings = {
        "/master/slaves": asyncio.run(fetch_listing(args.agents)),
        "/master/frameworks": frameworks_listing(args.tasks),
    }
    report: dict = {"machine": machine(), "agents": args.agents, "tasks": args.tasks, "rounds": args.rounds}
    for path, body in listings.items():
        ways = {
            "orjson.loads (baseline)": lambda body=body: orjson_uncollected(body),
            "the driver now": lambda body=body: _parse_and_read_uncollected(body, len),
        }
        results: dict[str, dict[str, list[float]]] = {name: {"parse": [], "max": [], "over": []} for name in ways}
        for _ in range(args.rounds):  # interleaved, so that both see the same machine
            for name, parse in ways.items():
                took, longest, over = gaps_while(parse)
                results[name]["parse"].append(took)
                results[name]["max"].append(longest)
                results[name]["over"].append(over)
        base = {key: statistics.median(values) for key, values in results["orjson.loads (baseline)"].items()}
        report[path] = {"bytes": len(body)}
        for name, measured in results.items():
            medians = {key: statistics.median(values) for key, values in measured.items()}
            report[path][name] = {
                "parse_ms": round(medians["parse"] * 1000, 1),
                "longest_wait_ms": round(medians["max"] * 1000, 1),
                "waits_over_5ms_ms": round(medians["over"] * 1000, 1),
                "parse_vs_baseline": round(medians["parse"] / base["parse"], 2),
                "longest_wait_vs_baseline": round(medians["max"] / base["max"], 3),
            }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
