"""run_sim as a process: serves, logs where it listens, stops cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
import time

import aiohttp
import pytest

SCRIPT = (
    "import sys; from scheduler.sim import SimConfig, run_sim; "
    "raise SystemExit(run_sim(SimConfig(agents=2), '127.0.0.1', int(sys.argv[1])))"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_run_sim_serves_until_signal(sig):
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SCRIPT, str(port), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        line = await asyncio.wait_for(proc.stderr.readline(), 15)
        assert b"listening on http://127.0.0.1:%d" % port in line, line
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/version") as resp:
                assert resp.status == 200
            # An open subscription must not hold the shutdown up.
            resp = await session.post(
                f"http://127.0.0.1:{port}/api/v1/scheduler",
                json={"type": "SUBSCRIBE", "subscribe": {"framework_info": {"user": "u", "name": "n"}}},
            )
            assert resp.status == 200
            await resp.content.readline()
            started = time.monotonic()
            proc.send_signal(sig)
            code = await asyncio.wait_for(proc.wait(), 10)
            resp.close()
        assert code == 0
        assert time.monotonic() - started < 5
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_run_sim_reports_a_busy_port():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", SCRIPT, str(port), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        _, err = await asyncio.wait_for(proc.communicate(), 15)
    assert proc.returncode == 1
    assert b"cannot listen" in err
