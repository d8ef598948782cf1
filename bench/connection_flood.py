"""Hostile connections against a real scheduler: ``python -m bench.connection_flood``.

The simulated master (N agents) and ``scale-scheduler run`` run as their own processes. Once the
status lists every node, this process keeps, for ``--duration`` seconds:

- ``--idle`` TCP connections open that never send anything (reopened as the server closes them);
- ``--non-readers`` connections that ask for ``/v6/status/`` and never read the answer (reopened
  likewise);

while a well-behaved client (its own process) asks for ``/v6/status/`` and ``/livez`` in turn on
a new connection each time, every ``--interval`` seconds. Printed as one JSON object: the slowest
and failed answers of the well-behaved client, the scheduler's resident memory before and at most,
and the lines the scheduler logged meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack

from bench.status_rps import PYTHON, free_port, pin, process, rss_mb, wait_for_nodes

REQUEST = b"GET /v6/status/ HTTP/1.1\r\nHost: bench\r\nAccept-Encoding: identity\r\n\r\n"


def is_closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


async def open_one(port: int, send: bytes | None) -> socket.socket | None:
    sock = socket.socket()
    if send:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # full at once: nothing is read
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    try:
        await asyncio.wait_for(loop.sock_connect(sock, ("127.0.0.1", port)), 5)
        if send:
            await asyncio.wait_for(loop.sock_sendall(sock, send), 5)
    except (OSError, TimeoutError):
        sock.close()
        return None
    return sock


async def attack(port: int, idle: int, non_readers: int, duration_s: float) -> dict:
    """Keep ``idle`` silent and ``non_readers`` non-reading connections open for ``duration_s``."""
    pools: dict[bytes | None, list[socket.socket]] = {None: [], REQUEST: []}
    wanted = {None: idle, REQUEST: non_readers}
    opened = {"idle": 0, "non_readers": 0, "failed": 0}
    deadline = time.monotonic() + duration_s
    while time.monotonic() < deadline:
        for send, pool in pools.items():
            for sock in [s for s in pool if is_closed(s)]:
                pool.remove(sock)
                sock.close()
            missing = wanted[send] - len(pool)
            for batch in range(0, missing, 100):
                socks = await asyncio.gather(*(open_one(port, send) for _ in range(min(100, missing - batch))))
                for sock in socks:
                    if sock is None:
                        opened["failed"] += 1
                    else:
                        pool.append(sock)
                        opened["idle" if send is None else "non_readers"] += 1
        await asyncio.sleep(0.5)
    for pool in pools.values():
        for sock in pool:
            sock.close()
    return opened


async def probe(base: str, duration_s: float, interval_s: float) -> dict:
    import aiohttp

    slowest = {"/v6/status/": 0.0, "/livez": 0.0}
    failures: list[str] = []
    slow: list[tuple[float, str, float]] = []  # (seconds since start, path, seconds) of answers over 1 s
    count = 0
    begun = time.monotonic()
    deadline = begun + duration_s
    timeout = aiohttp.ClientTimeout(total=10)
    while time.monotonic() < deadline:
        for path in slowest:
            started = time.monotonic()
            try:
                connector = aiohttp.TCPConnector(force_close=True)  # a new connection every time
                async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
                    async with session.get(base + path, headers={"Accept-Encoding": "gzip"}) as resp:
                        await resp.read()
                        if resp.status != 200:
                            failures.append(f"{path}: {resp.status}")
            except (aiohttp.ClientError, TimeoutError) as exc:
                failures.append(f"{path}: {type(exc).__name__}")
            elapsed = time.monotonic() - started
            slowest[path] = max(slowest[path], elapsed)
            if elapsed > 1.0:
                slow.append((round(started - begun, 1), path, round(elapsed, 2)))
            count += 1
            await asyncio.sleep(interval_s)
    return {
        "requests": count,
        "slowest_s": slowest,
        "over_1s": slow[:20],
        "failures": failures[:20],
        "failed": len(failures),
    }


def run(args: argparse.Namespace) -> dict:
    sim_port, api_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as workdir, ExitStack() as stack:
        sim_args = [PYTHON, "-m", "scheduler", "sim", "--port", str(sim_port), "--agents", str(args.agents)]
        sim = stack.enter_context(process([*sim_args, "--log-level", "WARNING"], cwd=workdir))
        log_path = os.path.join(workdir, "scheduler.log")
        log_file = stack.enter_context(open(log_path, "w"))
        env = {
            **os.environ,
            "MESOS_MASTER_URL": f"http://127.0.0.1:{sim_port}",
            "DATABASE_URL": f"sqlite:///{workdir}/bench.db",
            "PORT0": str(api_port),
            "SCALE_API_HOST": "127.0.0.1",
            "LOG_LEVEL": "INFO",
        }
        scheduler = subprocess.Popen([PYTHON, "-m", "scheduler", "run"], env=env, cwd=workdir, stderr=log_file)
        stack.callback(lambda: (scheduler.terminate(), scheduler.wait(10)))
        pin(scheduler.pid, {0})
        pin(sim.pid, {1})
        api = f"http://127.0.0.1:{api_port}"
        wait_for_nodes(api, args.agents, timeout_s=180)
        time.sleep(3)  # the first node tasks placed
        rss_before = rss_mb(scheduler.pid)
        lines_before = sum(1 for _ in open(log_path))
        prober = subprocess.Popen(
            [PYTHON, "-m", "bench.connection_flood", "--probe", api, "--duration", str(args.duration)],
            stdout=subprocess.PIPE,
            text=True,
        )
        rss_peak = [rss_before]
        pin(os.getpid(), {1})  # the attacker beside the simulator: the scheduler keeps its core

        async def flood() -> dict:
            async def watch_memory() -> None:
                while True:
                    rss_peak.append(rss_mb(scheduler.pid))
                    await asyncio.sleep(0.5)

            watcher = asyncio.create_task(watch_memory())
            try:
                return await attack(api_port, args.idle, args.non_readers, args.duration)
            finally:
                watcher.cancel()

        opened = asyncio.run(flood())
        probed = json.loads(prober.communicate(timeout=args.duration + 60)[0])
        with open(log_path) as log:
            lines = log.readlines()[lines_before:]
        return {
            "agents": args.agents,
            "idle": args.idle,
            "non_readers": args.non_readers,
            "duration_s": args.duration,
            "opened": opened,
            "probe": probed,
            "rss_before_mb": rss_before,
            "rss_peak_mb": max(rss_peak),
            "rss_growth_mb": max(rss_peak) - rss_before,
            "log_lines": len(lines),
            "log_sample": [line.rstrip()[:200] for line in lines[:10]],
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--idle", type=int, default=1100)
    parser.add_argument("--non-readers", type=int, default=500)
    parser.add_argument("--duration", type=float, default=40.0)
    parser.add_argument("--interval", type=float, default=0.25)
    parser.add_argument("--probe", metavar="URL", help=argparse.SUPPRESS)  # the well-behaved client's process
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(asyncio.run(probe(args.probe, args.duration, args.interval))))
        return 0
    print(json.dumps(run(args), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
