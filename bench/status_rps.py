"""GET /v6/status/ against the same server's trivial handler, side by side, with real processes.

The simulated master (N agents) and the scheduler run as their own processes, exactly as
``scale-scheduler sim`` and ``scale-scheduler run``; the scheduler runs with BENCH_ROUTES on, so the
same aiohttp server also serves ``/bench/status-copy/``: the same bytes from memory with no checks.
A separate load-generator process loads one path, then the other, alternating the order each
round; the ratio is status requests/s over baseline requests/s in the same run.

With ``gzip`` among the modes, ``GET /v6/status/`` with ``Accept-Encoding: gzip`` (compressed once
per snapshot, on the first request) is measured against ``/bench/status-copy-gzip/``, the first
status's bytes compressed once at start and served from memory, both loaded at the same time.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack, contextmanager

PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pin(pid: int, cpus: set[int]) -> None:
    """Keep processes off each other's core where the machine has two or more."""
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2:
        os.sched_setaffinity(pid, cpus)


@contextmanager
def process(args: list[str], env: dict[str, str] | None = None, cwd: str | None = None):
    proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def get_json(url: str, timeout: float = 30.0):
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())


def wait_for_nodes(api: str, agents: int, timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        try:
            document = get_json(api + "/v6/status/")
            last = len(document["nodes"])
            if last >= agents and document["resources"]["cpus"]["total"] > 0:
                return document
        except (OSError, ValueError):
            pass
        time.sleep(1.0)
    raise RuntimeError(f"the scheduler listed {last} of {agents} nodes after {timeout_s:.0f} s")


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def loadgen(url: str, duration_s: float, concurrency: int, accept_encoding: str = "identity") -> dict:
    args = [PYTHON, "-m", "bench.loadgen", url, "--duration", str(duration_s), "--concurrency", str(concurrency)]
    args += ["--accept-encoding", accept_encoding]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    pin(proc.pid, {1})
    out, _ = proc.communicate(timeout=duration_s + 120)
    return json.loads(out)


def measure_side_by_side(
    pairs: dict[str, tuple[str, str]], *, rounds: int, duration_s: float, concurrency: int
) -> dict:
    """Load the two pairs at the same time, each with ``concurrency`` connections, for ``rounds``.

    Both paths then see the same moment of the scheduler (its own work comes and goes: at 10,000
    agents the rates of consecutive rounds of one path differ by two to four times), so the ratio
    measures the handlers, not when each happened to run."""
    results: dict[str, list[dict]] = {name: [] for name in pairs}
    for round_number in range(rounds + 1):  # the first round warms up, unmeasured
        names = list(pairs)
        procs = {}
        for name in names:
            url, coding = pairs[name]
            args = [PYTHON, "-m", "bench.loadgen", url, "--duration", str(duration_s)]
            args += ["--concurrency", str(concurrency), "--accept-encoding", coding]
            procs[name] = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
            pin(procs[name].pid, {1})
        for name, proc in procs.items():
            out, _ = proc.communicate(timeout=duration_s + 120)
            if round_number:
                results[name].append(json.loads(out))
    return {**ratio_of(results), "side_by_side": True}


def gzip_size(url: str) -> int:
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=60) as resp:
        assert resp.headers["Content-Encoding"] == "gzip"
        return len(resp.read())


def compression_ms(body: bytes) -> dict:
    """What compressing one snapshot costs, per coding (the best of 5), in this process."""
    from scheduler.api.encodings import CODINGS, compress

    costs = {}
    for coding in CODINGS:
        times = []
        for _ in range(5):
            started = time.perf_counter()
            size = len(compress(body, coding))
            times.append(time.perf_counter() - started)
        costs[coding] = {"ms": min(times) * 1000, "bytes": size}
    return costs


def measure(pairs: dict[str, tuple[str, str]], *, rounds: int, duration_s: float, concurrency: int) -> dict:
    """Alternate the two (url, Accept-Encoding) pairs, named "status" and "baseline", for ``rounds``."""
    results: dict[str, list[dict]] = {name: [] for name in pairs}
    # One unmeasured round of each first: the scheduler is still placing its first node tasks
    # and connections, caches and the simulator's allocations are warming up.
    for url, coding in pairs.values():
        loadgen(url, min(duration_s, 3.0), concurrency, coding)
    for round_number in range(rounds):
        order = ("status", "baseline") if round_number % 2 == 0 else ("baseline", "status")
        for name in order:
            url, coding = pairs[name]
            results[name].append(loadgen(url, duration_s, concurrency, coding))
    return ratio_of(results)


def ratio_of(results: dict[str, list[dict]]) -> dict:
    """Mean requests/s of each path over its rounds, and status over baseline."""
    status_rps = sum(r["rps"] for r in results["status"]) / len(results["status"])
    baseline_rps = sum(r["rps"] for r in results["baseline"]) / len(results["baseline"])
    return {
        "status_rps": status_rps,
        "baseline_rps": baseline_rps,
        "ratio": status_rps / baseline_rps,
        "errors": sum(r["errors"] for rs in results.values() for r in rs),
        "per_round": results,
    }


def run(agents: int, *, rounds: int, duration_s: float, concurrency: int, modes: tuple[str, ...] = ("plain",)) -> dict:
    sim_port, api_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as workdir, ExitStack() as stack:
        sim = stack.enter_context(
            process(
                [
                    PYTHON,
                    "-m",
                    "scheduler",
                    "sim",
                    "--port",
                    str(sim_port),
                    "--agents",
                    str(agents),
                    "--log-level",
                    "WARNING",
                ],
                cwd=workdir,
            )
        )
        env = {
            **os.environ,
            "MESOS_MASTER_URL": f"http://127.0.0.1:{sim_port}",
            "DATABASE_URL": f"sqlite:///{workdir}/bench.db",
            "PORT0": str(api_port),
            "SCALE_API_HOST": "127.0.0.1",
            "BENCH_ROUTES": "true",
            "LOG_LEVEL": "WARNING",
        }
        scheduler = stack.enter_context(process([PYTHON, "-m", "scheduler", "run"], env=env, cwd=workdir))
        pin(scheduler.pid, {0})
        pin(sim.pid, {1})
        api = f"http://127.0.0.1:{api_port}"
        document = wait_for_nodes(api, agents, timeout_s=180)
        get_json(api + "/bench/status-copy/")  # freeze the baselines' bytes now
        status_url = api + "/v6/status/"
        result: dict = {"agents": agents, "nodes_listed": len(document["nodes"])}
        result["document_bytes"] = len(json.dumps(document, separators=(",", ":")))
        if "plain" in modes:
            pairs = {"status": (status_url, "identity"), "baseline": (api + "/bench/status-copy/", "identity")}
            result.update(measure(pairs, rounds=rounds, duration_s=duration_s, concurrency=concurrency))
        if "gzip" in modes:
            pairs = {"status": (status_url, "gzip"), "baseline": (api + "/bench/status-copy-gzip/", "gzip")}
            # Side by side: at thousands of requests a second, alternating rounds measured the
            # scheduler's own work more than the handlers (ratios 0.60 to 1.16 on one build).
            gzipped = measure_side_by_side(pairs, rounds=rounds, duration_s=duration_s, concurrency=concurrency)
            gzipped["gzip_bytes"] = gzip_size(status_url)
            gzipped["size_ratio"] = result["document_bytes"] / gzipped["gzip_bytes"]
            gzipped["compression"] = compression_ms(json.dumps(document, separators=(",", ":")).encode())
            result["gzip"] = gzipped
        result["scheduler_rss_mb"] = rss_mb(scheduler.pid)
        return result
