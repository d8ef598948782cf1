"""`scale-scheduler run` sets the collector for a long-lived core and freezes what it holds once started,
and has threads hand the interpreter back to the event loop sooner."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from scheduler.runtime import gc_tuning, thread_switching

# The CLI's own `run` path, with the daemon replaced by one that reports the collector as it found it
# before and after its start (a fresh interpreter: the test process keeps its own collector).
PROBE = """
import asyncio, gc, json, sys
import scheduler.daemon
seen = {}
async def fake_run_daemon(settings, on_started=None, **_):
    seen["threshold"] = gc.get_threshold()
    seen["switch_interval"] = sys.getswitchinterval()
    seen["frozen_before_start"] = gc.get_freeze_count()
    on_started(object())
    seen["frozen_after_start"] = gc.get_freeze_count()
    return 0
scheduler.daemon.run_daemon = fake_run_daemon
import scheduler.cli
scheduler.cli._exit_now = lambda code: None  # it ends the process past hung threads; here, report first
code = scheduler.cli.main(["run"])
print(json.dumps({**seen, "code": code}))
"""


def test_run_tunes_the_collector_and_freezes_once_started(tmp_path):
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "PYTHONPATH", "HOME")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path}/s.db"
    result = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["code"] == 0
    assert tuple(seen["threshold"]) == (
        gc_tuning.YOUNG_THRESHOLD,
        gc_tuning.MIDDLE_THRESHOLD,
        gc_tuning.OLD_THRESHOLD,
    )
    assert seen["switch_interval"] == thread_switching.SWITCH_INTERVAL_S != 0.005  # Python's default
    assert seen["frozen_before_start"] == 0
    assert seen["frozen_after_start"] > 10_000  # the modules and everything the start made
