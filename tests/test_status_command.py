"""``scale-scheduler status``: the terminal summary, on a recorded document and against a daemon."""

from __future__ import annotations

import asyncio
import copy
import gzip
import io
import json
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from e2ekit import scheduler_against, status_when

from scheduler import cli
from scheduler.commands import status_summary
from scheduler.commands.status_summary import Fetched, clean, render, status_command
from scheduler.sim import SimConfig, serve_sim
from scheduler.timefmt import parse_iso

# Recorded from `scale-scheduler dev` after one of its three agents was removed in the simulator.
RECORDED = json.loads((Path(__file__).parent / "data" / "status_dev_3_nodes.json").read_text())
QUEUE = {
    "count": 2,
    "next": None,
    "previous": None,
    "results": [
        {
            "job_type": {"id": 4, "name": "gpu-train", "version": "2.0"},
            "count": 500,
            "longest_queued": "2026-11-30T06:00:00Z",
            "highest_priority": 50,
            "pending_reasons": {"NO_NODE_FITS": 500},
        },
        {
            "job_type": {"id": 1, "name": "demo-echo", "version": "1.0"},
            "count": 100,
            "longest_queued": "2026-11-30T06:05:00Z",
            "highest_priority": 100,
            "pending_reasons": {"BEHIND_BLOCKED_PRIORITY": 100},
        },
    ],
}
NOW = parse_iso(RECORDED["timestamp"])


def test_a_recorded_status_is_summarized():
    text = render(Fetched(RECORDED, None, 2.0, None, "not served by this scheduler"), NOW)
    lines = text.splitlines()
    assert lines[0] == "Scheduler  READY  on localhost, framework e3e70682-c209-4cac-a29f-6fbed82c07cd-0000"
    assert lines[1] == f"Status     2 s old ({RECORDED['timestamp']})"
    assert "Warnings   none" in lines
    assert "Nodes      3: READY 2, OFFLINE 1" in lines
    assert "  OFFLINE           agent-3" in lines
    cpus = next(line for line in lines if line.startswith("  cpus"))
    assert cpus == (
        "  cpus  [##############----------------] running 3.6  offered 0.0  free 4.4  unavailable 0.0  of 8.0"
    )
    assert any(line.startswith("  mem   [") and line.endswith("of 16.0 GB") for line in lines)
    assert "Queue      not served by this scheduler" in lines
    assert "  ok   database       Database alive and well" in lines
    assert "  FAIL nodes          Over a third of nodes are in an error state" in lines
    assert "warning: NODES_OFFLINE: 1 nodes are offline" in text
    assert "Rates      task updates 5.8/s" in text


def test_the_queue_shows_counts_age_and_pending_reasons():
    text = render(Fetched(RECORDED, None, 0.0, QUEUE, None), parse_iso("2026-11-30T06:10:00Z"))
    lines = text.splitlines()
    assert "Queue      600 jobs of 2 job types" in lines
    gpu = next(line for line in lines if "gpu-train" in line)
    assert gpu.split() == ["gpu-train", "2.0", "500", "50", "10", "min", "NO_NODE_FITS", "500"]
    echo = next(line for line in lines if "demo-echo" in line)
    assert echo.split()[-2:] == ["BEHIND_BLOCKED_PRIORITY", "100"]


def test_every_server_string_is_escaped():
    hostile = copy.deepcopy(RECORDED)
    hostile["nodes"][2]["hostname"] = "agent-3\x1b]0;owned\x07\x1b[2J\r\nFAKE LINE"
    hostile["nodes"][2]["errors"] = [{"name": "E", "title": "\u202eevil", "description": "x\x9b31m"}]
    hostile["scheduler"]["hostname"] = "\x1b[31mred"
    hostile["dependencies"]["database"]["detail"]["msg"] = "ok\nSpoofed line"
    hostile["scheduler"]["warnings"] = [{"name": "W", "title": "T" * 1000}]
    text = render(Fetched(hostile, None, 0.0, {"results": [{"job_type": {"name": "\x1bq"}, "count": 1}]}, None), NOW)
    assert not any(ch in text for ch in "\x1b\x07\r\x9b\u202e")
    assert "agent-3\\x1b]0;owned\\x07\\x1b[2J\\x0d\\x0aFAKE LINE" in text
    assert "\\u202eevil" in text
    assert "FAKE LINE" not in [line.strip() for line in text.splitlines()]
    assert "Spoofed line" not in [line.strip() for line in text.splitlines()]
    assert max(len(line) for line in text.splitlines()) < 400


def test_clean_caps_length_and_accepts_anything():
    assert clean("x" * 500, limit=10) == "x" * 9 + "…"
    assert clean(None) == "" and clean(12) == "12"
    assert clean("naïve — ok") == "naïve — ok"  # printable non-ASCII stays as it is


def test_a_malformed_document_does_not_crash_the_summary():
    weird = {"scheduler": [], "nodes": {"a": 1}, "resources": {"cpus": "lots"}, "dependencies": None}
    text = render(Fetched(weird, None, None, {"results": "no"}, None), NOW)
    assert "Nodes      0" in text and "Status     age unknown" in text


@pytest.fixture
async def served():
    """An HTTP server whose answers the test sets; returns (base URL, routes dict)."""
    answers: dict[str, web.Response] = {}

    async def handler(request):
        make = answers.get(request.path)
        return make() if make else web.json_response({"detail": "Not found."}, status=404)

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    server = TestServer(app)
    await server.start_server()
    yield str(server.make_url("")).rstrip("/"), answers
    await server.close()


async def test_a_503_is_shown_with_its_detail_and_exits_1(served):
    url, answers = served
    answers["/v6/status/"] = lambda: web.json_response({"detail": "Status is over 12 seconds old"}, status=503)
    out = io.StringIO()
    assert await asyncio.to_thread(status_command, url, out=out) == 1
    assert out.getvalue() == "Status     unavailable: Status is over 12 seconds old (HTTP 503)\n"


async def test_an_unreachable_scheduler_exits_1():
    out = io.StringIO()
    assert await asyncio.to_thread(status_command, "http://127.0.0.1:9", out=out) == 1
    assert out.getvalue().startswith("Status     unavailable: cannot read http://127.0.0.1:9/v6/status/")


async def test_gzip_is_accepted_and_a_bomb_is_refused(served, monkeypatch):
    url, answers = served
    packed = gzip.compress(json.dumps(RECORDED).encode())

    def gzipped(body=packed):
        return web.Response(body=body, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})

    answers["/v6/status/"] = gzipped
    answers["/v6/queue/status/"] = lambda: web.json_response(QUEUE)
    out = io.StringIO()
    assert await asyncio.to_thread(status_command, url, out=out) == 0
    assert "Nodes      3: READY 2, OFFLINE 1" in out.getvalue()
    assert "Queue      600 jobs of 2 job types" in out.getvalue()

    monkeypatch.setattr(status_summary, "MAX_BODY", 100_000)
    bomb = gzip.compress(b"[" + b"0," * 1_000_000 + b"0]")
    assert len(bomb) < 100_000
    answers["/v6/status/"] = lambda: gzipped(bomb)
    out = io.StringIO()
    assert await asyncio.to_thread(status_command, url, out=out) == 1
    assert "inflates beyond 100000 bytes" in out.getvalue()


async def test_watch_refreshes_until_ctrl_c(served):
    url, answers = served
    calls = []
    answers["/v6/status/"] = lambda: calls.append(1) or web.json_response(RECORDED)
    naps = []

    def sleep(seconds):
        naps.append(seconds)
        if len(naps) == 3:
            raise KeyboardInterrupt

    out = io.StringIO()
    assert await asyncio.to_thread(status_command, url, watch=True, out=out, sleep=sleep) == 0
    assert naps == [2.0, 2.0, 2.0] and len(calls) == 3
    screens = out.getvalue().split("\x1b[H\x1b[2J")
    assert screens[0] == "" and len(screens) == 4
    assert all("Nodes      3: READY 2, OFFLINE 1" in screen for screen in screens[1:])


@pytest.mark.slow
async def test_against_a_running_daemon(tmp_path, capsys):
    sim = await serve_sim(SimConfig(agents=2, heartbeat_interval_s=0.5, allocation_interval_s=0.1), "127.0.0.1", 0)
    try:
        async with scheduler_against(sim, tmp_path) as (daemon, http):
            await status_when(http, lambda d: [n["state"]["name"] for n in d["nodes"]] == ["READY", "READY"])
            code = await asyncio.to_thread(cli.main, ["status", "--url", daemon.api_url])
    finally:
        await sim.close()
    text = capsys.readouterr().out
    assert code == 0
    assert "Nodes      2: READY 2" in text
    assert text.startswith("Scheduler  READY  on ")
    assert "  ok   database       Database alive and well" in text
    assert "Status     " in text and " s old (" in text
