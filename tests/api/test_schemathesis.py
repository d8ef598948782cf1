"""schemathesis against a whole running scheduler (simulated master, SQLite, every route): no 5xx,
every answer as the OpenAPI document says, invalid input refused, writes refused without a token."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from datetime import UTC, datetime

import pytest
from e2ekit import scheduler_against, status_when

from scheduler.jobs.definitions import JobType
from scheduler.sim import SimConfig, serve_sim
from scheduler.store.job_type_rows import upsert_job_types

TOKEN = "schemathesis-token-0123456789"
SCHEMATHESIS = shutil.which("schemathesis", path=os.path.dirname(sys.executable))
MAX_TIME_S = os.environ.get("SCHEMATHESIS_MAX_TIME", "45")

pytestmark = pytest.mark.slow


@pytest.mark.skipif(SCHEMATHESIS is None, reason="schemathesis is not installed (pip install -e '.[dev]')")
async def test_schemathesis_finds_nothing(tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{TOKEN} schemathesis\n")
    sim = await serve_sim(SimConfig(agents=3, allocation_interval_s=0.2, task_duration_s=0.5), "127.0.0.1", 0)
    overrides = {
        "MESSAGE_HANDLER_MODE": "in-process",
        "SCALE_QUEUE_NAME": "schemathesis",
        "API_TOKENS_FILE": str(tokens),
    }
    try:
        async with scheduler_against(sim, tmp_path, **overrides) as (daemon, http):
            await daemon.database.run(
                lambda c: upsert_job_types(c, [JobType("demo", "1", "true", cpus=64.0, mem=64.0, title="Too big")])
            )
            await daemon.database.run(
                lambda c: c.exec_driver_sql(
                    "INSERT INTO job (job_type_id, priority, status, queued, last_modified) "
                    "SELECT id, 100, 'QUEUED', ?, ? FROM job_type",
                    (datetime.now(UTC), datetime.now(UTC)),
                )
            )
            await status_when(http, lambda d: len(d["nodes"]) == 3)
            process = await asyncio.create_subprocess_exec(
                SCHEMATHESIS,
                "run",
                f"{daemon.api_url}/v6/openapi.json",
                "--checks",
                "all",
                "--header",
                f"Authorization: Bearer {TOKEN}",
                "--max-time",
                MAX_TIME_S,
                "--workers",
                "1",  # CPython 3.11's ast is not thread-safe: hypothesis's lambda parsing crashes with more
                "--exclude-path-regex",
                "events/$",  # an endless event stream has no end to check
                "--no-color",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                cwd=tmp_path,
            )
            output, _ = await process.communicate()
            text = output.decode(errors="replace")
            assert process.returncode == 0, text[-6000:]
            assert "failures" not in text.splitlines()[-1], text[-6000:]
    finally:
        await sim.close()
