"""Record writes, per row against multi-row, in the same run:
``python -m bench.record_writes [--batch 500] [--rounds 20] [--database postgresql|sqlite|both]``.

Each round writes one batch the way the record writer does (one transaction): half launches of new
tries, half ends of the tries launched the round before (each end moves its job). The two paths
alternate round by round on separate jobs of the same database, so both see the same machine load;
the figure is records written per second, and the ratio of the two.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import create_engine, insert, text

from bench.per_row_writes import write_records_per_row
from scheduler.core.records import ExeEnded, ExeLaunched
from scheduler.jobs.definitions import ErrorCategory, ExeStatus, JobStatus
from scheduler.store.database import Database, normalize_url
from scheduler.store.record_writes import write_records
from scheduler.store.tables import job_table, job_type_table, node_table

ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
NODES = 100


def seed(connection, jobs: int) -> None:
    at = datetime.now(UTC)
    connection.execute(
        insert(job_type_table).values(
            id=1, name="b", version="1", cpus=1, mem=1, disk=0, gpus=0, command="c", max_tries=3, created=at,
            last_modified=at,
        )
    )  # fmt: skip
    connection.execute(
        insert(node_table),
        [{"id": n, "hostname": f"h{n}", "created": at, "last_modified": at} for n in range(1, NODES + 1)],
    )
    for first in range(1, jobs + 1, 10_000):
        connection.execute(
            insert(job_table),
            [
                {"id": j, "job_type_id": 1, "status": "QUEUED", "queued": at, "last_modified": at}
                for j in range(first, min(first + 10_000, jobs + 1))
            ],
        )


def batch(first_job: int, half: int, now: float) -> list:
    """Launches of jobs [first_job, first_job + half); ends of the ``half`` jobs before them."""
    records: list = [ExeLaunched(j, 1, 1, f"t-{j}-1", 1 + j % NODES, now) for j in range(first_job, first_job + half)]
    for j in range(max(1, first_job - half), first_job):
        if j % 10 == 0:
            records.append(
                ExeEnded(f"t-{j}-1", j, 1, ExeStatus.FAILED, ErrorCategory.SYSTEM, None, now, JobStatus.QUEUED)
            )
        else:
            records.append(ExeEnded(f"t-{j}-1", j, 1, ExeStatus.COMPLETED, None, 0, now, JobStatus.COMPLETED))
    return records


def measure(url: str, batch_size: int, rounds: int) -> dict:
    database = Database(url)
    asyncio.run(database.migrate())
    engine = database.engine
    half = batch_size // 2
    span = half * (rounds + 3)  # each path's own range of jobs
    with engine.begin() as connection:
        seed(connection, 2 * span)
    paths = {"per_row": (write_records_per_row, 1), "multi_row": (write_records, span + 1)}
    elapsed = dict.fromkeys(paths, 0.0)
    written = dict.fromkeys(paths, 0)
    for round_ in range(rounds + 2):  # rounds 0 (launches only) and 1 warm up: not counted
        for name in paths if round_ % 2 == 0 else reversed(list(paths)):
            write, base = paths[name]
            records = batch(base + round_ * half, half, time.time())
            if round_ == 0:
                records = [r for r in records if isinstance(r, ExeLaunched)]
            started = time.perf_counter()
            with engine.begin() as connection:
                write(connection, records)
            if round_ >= 2:
                elapsed[name] += time.perf_counter() - started
                written[name] += len(records)
    asyncio.run(database.close())
    rates = {name: written[name] / elapsed[name] for name in paths}
    return {
        "records_per_batch": batch_size,
        "rounds": rounds,
        "per_row_records_per_s": round(rates["per_row"]),
        "multi_row_records_per_s": round(rates["multi_row"]),
        "ratio": round(rates["multi_row"] / rates["per_row"], 2),
    }


def run_postgresql(batch_size: int, rounds: int) -> dict:
    name = f"scale_bench_writes_{uuid.uuid4().hex[:8]}"
    admin = create_engine(normalize_url(ADMIN_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        return measure(ADMIN_URL.rsplit("/", 1)[0] + "/" + name, batch_size, rounds)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=500, help="records per write (the writer's group size)")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--database", choices=("postgresql", "sqlite", "both"), default="both")
    args = parser.parse_args()
    if not 2 <= args.batch <= 100_000 or not 1 <= args.rounds <= 1000:
        parser.error("--batch must be 2..100000 and --rounds 1..1000")
    report = {}
    if args.database in ("postgresql", "both"):
        report["postgresql"] = run_postgresql(args.batch, args.rounds)
    if args.database in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as workdir:
            report["sqlite"] = measure(f"sqlite:///{workdir}/bench.db", args.batch, args.rounds)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
