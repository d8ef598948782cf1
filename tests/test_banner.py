"""The start banner names the address the API really listens on, with the port actually bound."""

from __future__ import annotations

import asyncio
import logging
import re

from scheduler.config import load_settings
from scheduler.daemon import listen_text, run_daemon
from scheduler.sim import SimConfig, serve_sim


def test_listen_text():
    assert listen_text("0.0.0.0", "http://127.0.0.1:8123") == "0.0.0.0 port 8123, every interface"
    assert listen_text("::", "http://127.0.0.1:8123") == ":: port 8123, every interface"
    assert listen_text("10.1.2.3", "http://10.1.2.3:80") == "10.1.2.3:80"
    assert listen_text("::1", "http://::1:81") == "[::1]:81"


async def test_the_log_line_names_the_port_bound_when_0_was_asked(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="scheduler.daemon")
    sim = await serve_sim(SimConfig(agents=1), "127.0.0.1", 0)
    settings = load_settings(
        {},
        overrides={
            "MESOS_MASTER_URL": sim.url,
            "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite",
            "PORT0": "0",
            "SCALE_API_HOST": "127.0.0.1",
        },
    )
    stop = asyncio.Event()
    started = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(run_daemon(settings, stop=stop, on_started=started.set_result))
    try:
        daemon = await asyncio.wait_for(started, 15)
        port = int(daemon.api_url.rsplit(":", 1)[1])
        assert port != 0
        line = next(r.getMessage() for r in caplog.records if "serving the API" in r.getMessage())
        assert re.search(rf"serving the API on http://127\.0\.0\.1:{port} \(listening on 127\.0\.0\.1:{port}\)", line)
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
        await sim.close()
