"""The status written for the api command, as text (before migration 0006) against gzipped, in the
same run: ``python -m bench.status_persist [--nodes 10000] [--rounds 10] [--database postgresql|sqlite]``.

Each round writes one status document of ``--nodes`` nodes both ways, alternating which goes first,
from a thread as the scheduler does, while a pure-Python thread (standing in for the event loop)
notes the longest it waited between two of its steps: the interpreter held by the write. The gzip
path includes making the gzip bytes (each round's snapshot is new). Figures: the write's wall time
and that longest wait, median and worst, and the gzip path's as a ratio of the text path's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime

import orjson
from sqlalchemy import create_engine, text, update
from sqlalchemy.engine import Connection

from scheduler.api import encodings
from scheduler.status.snapshot import StatusSnapshot
from scheduler.store.database import Database, normalize_url
from scheduler.store.scheduler_row import ROW_ID, save_status
from scheduler.store.tables import scheduler_table

ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SWITCH_INTERVAL_S = 0.001  # as `scale-scheduler run` sets it (scheduler/runtime/thread_switching.py)


def save_status_as_text(connection: Connection, body: bytes, generated_at: float) -> None:
    """The write before migration 0006, kept unchanged as the baseline."""
    connection.execute(
        update(scheduler_table)
        .where(scheduler_table.c.id == ROW_ID)
        .values(status=body.decode(), status_time=datetime.fromtimestamp(generated_at, UTC))
    )


def status_document(nodes: int, seed: int) -> bytes:
    """A v6 status with ``nodes`` nodes shaped like the scheduler's (ids, agent ids, counts vary)."""
    rng = random.Random(seed)

    # Agents of one cluster look alike: whole cpus, memory in 512 MB steps, a few tries of three
    # job types each; the agent ids are random, as Mesos makes them.
    def resource(total: float, step: float) -> dict:
        running = step * rng.randint(0, int(total / step)) if total else 0.0
        return {"offered": 0.0, "total": total, "running": running, "free": total - running, "unavailable": 0.0}

    def by_type(most: int) -> dict:
        counts = [rng.randint(0, most) for _ in range(3)]
        return {
            "total": sum(counts),
            "by_job_type": [{"job_type_id": t, "count": c} for t, c in enumerate(counts, 1) if c],
        }

    node_list = [
        {
            "id": i,
            "hostname": f"agent-{i}.cluster.example",
            "agent_id": f"{uuid.UUID(int=rng.getrandbits(128))}-S{i}",
            "is_active": True,
            "state": {"name": "READY", "title": "Ready", "description": "Node is ready to run new jobs."},
            "errors": [],
            "warnings": [],
            "node_tasks": [],
            "system_tasks": [],
            "num_offers": rng.randint(0, 1),
            "resources": {
                "cpus": resource(8.0, 1.0),
                "mem": resource(32768.0, 512.0),
                "disk": resource(65536.0, 1024.0),
                "gpus": resource(0.0, 1.0),
            },
            "job_executions": {
                "running": by_type(3),
                "completed": by_type(20),
                "failed": {"total": 0, "data": by_type(1), "algorithm": by_type(1), "system": by_type(1)},
            },
        }
        for i in range(1, nodes + 1)
    ]
    return orjson.dumps({"timestamp": datetime.now(UTC).isoformat(), "nodes": node_list})


class LongestWait:
    """A pure-Python thread's longest gap between two of its steps while ``watching``."""

    def __init__(self) -> None:
        self.longest = 0.0
        self.watching = False
        self._stop = False
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        last = time.perf_counter()
        while not self._stop:
            sum(range(50))  # a few microseconds of Python work per step
            now = time.perf_counter()
            if self.watching:
                self.longest = max(self.longest, now - last)
            last = now

    def stop(self) -> None:
        self._stop = True
        self._thread.join()


async def write_once(database: Database, how: str, body: bytes, probe: LongestWait) -> tuple[float, float, int]:
    """(wall seconds, longest wait seconds, bytes stored) of one write."""
    generated_at = time.time()
    probe.longest, probe.watching = 0.0, True
    started = time.perf_counter()
    if how == "text":
        stored = len(body)
        await database.run(lambda connection: save_status_as_text(connection, body, generated_at))
    else:
        snapshot = StatusSnapshot(generated_at, body)  # new each round: the gzip bytes are made here
        gzipped = await asyncio.get_running_loop().run_in_executor(None, encodings.encoded, snapshot, "gzip")
        stored = len(gzipped)
        await database.run(lambda connection: save_status(connection, gzipped, generated_at))
    wall = time.perf_counter() - started
    probe.watching = False
    return wall, probe.longest, stored


def _figures(values: list[float]) -> dict:
    return {"median_ms": round(statistics.median(values) * 1000, 2), "max_ms": round(max(values) * 1000, 2)}


async def measure(url: str, nodes: int, rounds: int) -> dict:
    database = Database(url)
    probe = LongestWait()
    try:
        await database.migrate()
        body = status_document(nodes, seed=1)
        results: dict[str, dict[str, list]] = {how: {"wall": [], "wait": [], "bytes": []} for how in ("text", "gzip")}
        for index in range(rounds + 1):
            order = ("text", "gzip") if index % 2 == 0 else ("gzip", "text")
            for how in order:
                wall, wait, stored = await write_once(database, how, body, probe)
                if index > 0:  # the first round warms connections and caches
                    results[how]["wall"].append(wall)
                    results[how]["wait"].append(wait)
                    results[how]["bytes"].append(stored)
    finally:
        probe.stop()
        await database.close()
    report = {"document_bytes": len(body)}
    for how, figures in results.items():
        report[how] = {
            "write": _figures(figures["wall"]),
            "longest_wait": _figures(figures["wait"]),
            "stored_bytes": figures["bytes"][0],
        }
    for what in ("write", "longest_wait"):
        report[f"gzip_vs_text_{what}_median"] = round(
            report["gzip"][what]["median_ms"] / report["text"][what]["median_ms"], 3
        )
    return report


def _temporary_postgres() -> tuple[str, callable]:
    name = f"scale_bench_status_{uuid.uuid4().hex[:8]}"
    admin = create_engine(normalize_url(ADMIN_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    args = parser.parse_args(argv)
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    if args.database == "postgresql":
        url, drop = _temporary_postgres()
    else:
        folder = tempfile.mkdtemp()
        url, drop = f"sqlite:///{folder}/status.db", lambda: None
    try:
        report = asyncio.run(measure(url, args.nodes, args.rounds))
    finally:
        drop()
    report.update({"database": args.database, "nodes": args.nodes, "rounds": args.rounds, "cpus": os.cpu_count()})
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
