"""End to end, as processes: `scale-scheduler sim --credentials FILE` and `scale-scheduler run` with
MESOS_PRINCIPAL / MESOS_SECRET_FILE. The scheduler leads and runs tasks; its secret is in no log line."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import subprocess
import sys

import aiohttp
import pytest

SECRET = "e2e-Secret-4711"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _master_state(session: aiohttp.ClientSession, url: str) -> dict | None:
    try:
        async with session.get(url + "/master/state") as resp:
            return await resp.json() if resp.status == 200 else None
    except aiohttp.ClientError:
        return None


@pytest.mark.slow
async def test_scheduler_authenticates_to_sim_with_credentials_and_never_logs_the_secret(tmp_path):
    creds = tmp_path / "credentials.json"
    creds.write_text(json.dumps({"credentials": [{"principal": "scale", "secret": SECRET}]}))
    secret_file = tmp_path / "mesos-secret"
    secret_file.write_text(SECRET + "\n")
    port, api_port = _free_port(), _free_port()
    url = f"http://127.0.0.1:{port}"
    sim_log, daemon_log = tmp_path / "sim.log", tmp_path / "daemon.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MESOS_", "SCALE_"))}
    with open(sim_log, "w") as sim_err, open(daemon_log, "w") as daemon_err:
        sim = subprocess.Popen(
            [sys.executable, "-m", "scheduler", "sim", "--port", str(port), "--agents", "2",
             "--heartbeat-interval", "1", "--credentials", str(creds), "--log-level", "DEBUG"],
            env=env, cwd=tmp_path, stderr=sim_err, stdout=sim_err,
        )  # fmt: skip
        daemon = None
        try:
            daemon_env = {
                **env,
                "MESOS_MASTER_URL": url,
                "MESOS_PRINCIPAL": "scale",
                "MESOS_SECRET_FILE": str(secret_file),
                "DATABASE_URL": f"sqlite:///{tmp_path}/s.db",
                "PORT0": str(api_port),
                "SCALE_API_HOST": "127.0.0.1",
                "MASTER_POLL_INTERVAL": "0.5",
                "LOG_LEVEL": "DEBUG",
            }
            daemon = subprocess.Popen(
                [sys.executable, "-m", "scheduler", "run"], env=daemon_env, cwd=tmp_path, stderr=daemon_err,
                stdout=daemon_err,
            )  # fmt: skip
            framework = None
            async with aiohttp.ClientSession() as session:
                async with asyncio.timeout(40):
                    while True:
                        state = await _master_state(session, url)
                        frameworks = (state or {}).get("frameworks", [])
                        running = [t for f in frameworks for t in f["tasks"] if t["state"] == "TASK_RUNNING"]
                        if frameworks and frameworks[0]["active"] and running:
                            framework = frameworks[0]
                            break
                        assert daemon.poll() is None, daemon_log.read_text()[-2000:]
                        await asyncio.sleep(0.2)
            assert framework["principal"] == "scale"
            # An intruder with the framework id (shown by /v6/status/) and no or a wrong secret.
            fid = framework["id"]
            tasks_before = sorted(t["id"] for t in framework["tasks"] if t["state"] == "TASK_RUNNING")
            subscribe = {
                "type": "SUBSCRIBE",
                "framework_id": {"value": fid},
                "subscribe": {"framework_info": {"user": "x", "name": "x", "id": {"value": fid}}},
            }
            teardown = {"type": "TEARDOWN", "framework_id": {"value": fid}}
            wrong = "Basic " + base64.b64encode(b"scale:guess").decode()
            async with aiohttp.ClientSession() as session:
                for call in (subscribe, teardown):
                    for auth in ({}, {"Authorization": wrong}):
                        headers = {"Content-Type": "application/json", "Mesos-Stream-Id": "x", **auth}
                        if call is subscribe:
                            del headers["Mesos-Stream-Id"]
                        async with session.post(url + "/api/v1/scheduler", json=call, headers=headers) as resp:
                            assert resp.status == 401
                            assert resp.headers["WWW-Authenticate"] == 'Basic realm="mesos-master-scheduler"'
                state = await _master_state(session, url)
            [after] = state["frameworks"]
            assert after["active"] and after["id"] == fid
            running = sorted(t["id"] for t in after["tasks"] if t["state"] == "TASK_RUNNING")
            assert set(tasks_before) <= set(running)
            # The scheduler still leads on its one subscription: it never saw a failover or a teardown.
            assert daemon.poll() is None, daemon_log.read_text()[-2000:]
            async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{api_port}/readyz") as resp:
                assert resp.status == 200, await resp.text()
            assert daemon_log.read_text().count("Subscribed to") == 1
        finally:
            for process in (daemon, sim):
                if process is not None and process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                    try:
                        await asyncio.to_thread(process.wait, 15)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()
    logs = sim_log.read_text() + daemon_log.read_text()
    assert "Subscribed to" in daemon_log.read_text()
    assert SECRET not in logs
    encoded = base64.b64encode(f"scale:{SECRET}".encode()).decode()
    assert encoded not in logs
