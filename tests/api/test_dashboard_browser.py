"""The dashboard in a real headless Chromium, against a whole scheduler and a simulated master.

Needs Debian's ``chromium`` and ``chromium-driver`` (.ci/run installs them) and selenium (the dev
extra). Skipped without them, unless REQUIRE_SERVICES=1, when their absence fails the run.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time

import aiohttp
import pytest
from e2ekit import scheduler_against, status_when

from scheduler.sim import SimConfig, serve_sim

pytestmark = pytest.mark.slow

PIXEL = """
const c = window.scaleDashboard && window.scaleDashboard.cellCenter(arguments[0]);
if (!c) return null;
const d = document.getElementById("node-grid").getContext("2d")
  .getImageData(Math.floor(c.x * c.ratio), Math.floor(c.y * c.ratio), 1, 1).data;
return [d[0], d[1], d[2]];
"""


def is_red(rgb):
    return rgb is not None and rgb[0] > 180 and rgb[1] < 120 and rgb[2] < 120


def is_green(rgb):
    return rgb is not None and rgb[1] > 140 and rgb[0] < 120


def chromium_driver():
    missing = [name for name in ("chromium", "chromedriver") if shutil.which(name) is None]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("selenium")
    if missing:
        message = f"{', '.join(missing)} not installed"
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(f"{message} and REQUIRE_SERVICES=1", pytrace=False)
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))


def console_errors(driver, queue_missing):
    """The browser's errors; the only one tolerated is the queue status's 404 from a server without it."""
    return [
        entry
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE"
        and not (queue_missing and "/v6/queue/status/" in entry["message"] and "404" in entry["message"])
    ]


def click_cell(driver, hostname):
    """A real mouse click on the node's cell, at its position in the viewport."""
    from selenium.webdriver.common.action_chains import ActionChains

    x, y = driver.execute_script(
        """const c = window.scaleDashboard.cellCenter(arguments[0]);
        const canvas = document.getElementById("node-grid");
        window.scrollTo(0, canvas.getBoundingClientRect().top + window.scrollY + c.y - window.innerHeight / 2);
        const r = canvas.getBoundingClientRect();
        return [Math.round(r.left + c.x), Math.round(r.top + c.y)];""",
        hostname,
    )
    actions = ActionChains(driver)
    actions.w3c_actions.pointer_action.move_to_location(x, y).click()
    actions.perform()


async def until(check, timeout):
    """Poll ``check`` (run in a thread: selenium blocks) until it returns a true value; returns it."""
    deadline = time.monotonic() + timeout
    while True:
        value = await asyncio.to_thread(check)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {check.__doc__ or check}")
        await asyncio.sleep(0.1)


async def test_the_page_shows_the_nodes_and_turns_a_lost_node_red_with_no_console_error(tmp_path):
    driver = await asyncio.to_thread(chromium_driver)
    sim = await serve_sim(SimConfig(agents=3, heartbeat_interval_s=0.5, allocation_interval_s=0.1), "127.0.0.1", 0)
    try:
        async with scheduler_against(sim, tmp_path) as (daemon, http):
            document = await status_when(
                http, lambda d: len(d["nodes"]) == 3 and all(n["state"]["name"] == "READY" for n in d["nodes"])
            )
            victim = document["nodes"][1]
            await asyncio.to_thread(driver.get, daemon.api_url + "/")

            def node_count():
                """the page shows 3 nodes"""
                return driver.find_element("id", "node-count").text == "3"

            await until(node_count, 10)
            assert is_green(await asyncio.to_thread(driver.execute_script, PIXEL, victim["hostname"]))

            def live():
                """the event stream is open"""
                return "on" in driver.find_element("id", "live").get_attribute("class").split()

            await until(live, 10)
            async with http.delete(f"{sim.url}/sim/agents/{victim['agent_id']}") as resp:
                assert resp.status == 200
            lost_at = time.monotonic()

            def victim_red():
                """the removed agent's cell is red"""
                return is_red(driver.execute_script(PIXEL, victim["hostname"]))

            await until(victim_red, 5)
            shown_after = time.monotonic() - lost_at
            legend = await asyncio.to_thread(lambda: driver.find_element("id", "node-legend").text)
            assert "OFFLINE 1" in legend and "READY 2" in legend
            for other in (document["nodes"][0], document["nodes"][2]):
                assert is_green(await asyncio.to_thread(driver.execute_script, PIXEL, other["hostname"]))

            async with http.get("/v6/queue/status/") as resp:
                queue_missing = resp.status == 404
            assert await asyncio.to_thread(console_errors, driver, queue_missing) == []
            print(f"node shown OFFLINE {shown_after:.2f} s after its agent was removed")
    finally:
        await asyncio.to_thread(driver.quit)
        await sim.close()


def ten_thousand_nodes():
    resources = {"cpus": {"offered": 0.0, "running": 1.0, "free": 3.0, "unavailable": 0.0, "total": 4.0}}
    nodes = [
        {
            "id": i + 1,
            "hostname": f"agent-{i + 1}",
            "agent_id": f"S{i}",
            "is_active": True,
            "state": {"name": "READY", "title": "Ready", "description": "Node is ready to run new jobs."},
            "errors": [],
            "warnings": [],
            "num_offers": 0,
            "resources": resources,
        }
        for i in range(10_000)
    ]
    nodes[-1]["state"] = {"name": "OFFLINE", "title": "Offline", "description": "Node is offline."}
    nodes[-1]["errors"] = [{"name": "E", "title": "Lost", "description": "<img src=x onerror=alert(1)>"}]
    return {
        "timestamp": "2026-01-01T00:00:00Z",
        "scheduler": {"state": {"name": "READY", "title": "Ready"}, "metrics": {"new_offers_per_sec": 3.0}},
        "resources": {
            "cpus": {"offered": 0.0, "running": 10000.0, "free": 30000.0, "unavailable": 0.0, "total": 40000.0}
        },
        "nodes": nodes,
    }


async def test_ten_thousand_nodes_render_on_one_canvas():
    import orjson
    from aiohttp.test_utils import TestServer

    from scheduler.api.app import create_app
    from scheduler.status.snapshot import StatusSnapshot

    class Fixed:
        freshness_s = 1e9  # a fixed document: never stale for this test

        def __init__(self):
            self.snapshot = StatusSnapshot(time.time(), orjson.dumps(ten_thousand_nodes()))

        def current(self):
            return self.snapshot

    driver = await asyncio.to_thread(chromium_driver)
    server = TestServer(create_app(status=Fixed()))
    await server.start_server()
    try:
        await asyncio.to_thread(driver.get, str(server.make_url("/")))

        def all_shown():
            """the page shows 10000 nodes"""
            return driver.find_element("id", "node-count").text == "10000"

        await until(all_shown, 30)
        assert is_red(await asyncio.to_thread(driver.execute_script, PIXEL, "agent-10000"))
        assert is_green(await asyncio.to_thread(driver.execute_script, PIXEL, "agent-1"))
        assert is_green(await asyncio.to_thread(driver.execute_script, PIXEL, "agent-9999"))
        render_ms = await asyncio.to_thread(driver.execute_script, "return window.scaleDashboard.lastRenderMs()")
        # Not a benchmark: a bound far above what it takes (85-255 ms seen), far below unusable.
        assert render_ms < 3000, render_ms
        # One canvas and its handful of listeners, not an element per node.
        elements = await asyncio.to_thread(driver.execute_script, "return document.getElementsByTagName('*').length")
        assert elements < 500
        legend = await asyncio.to_thread(lambda: driver.find_element("id", "node-legend").text)
        assert "READY 9999" in legend and "OFFLINE 1" in legend
        # Click the offline node: its error shows in the detail box as text, never as markup.
        await asyncio.to_thread(click_cell, driver, "agent-10000")
        detail = await asyncio.to_thread(lambda: driver.find_element("id", "node-detail").text)
        assert "agent-10000" in detail and "Lost: <img src=x onerror=alert(1)>" in detail
        assert await asyncio.to_thread(driver.execute_script, "return document.images.length") == 0
        async with aiohttp.ClientSession() as http:
            async with http.get(str(server.make_url("/v6/queue/status/"))) as resp:
                queue_missing = resp.status == 404
        assert await asyncio.to_thread(console_errors, driver, queue_missing) == []
        print(f"10,000 nodes rendered in {render_ms:.0f} ms")
    finally:
        await asyncio.to_thread(driver.quit)
        await server.close()


async def test_the_queue_table_shows_counts_and_pending_reasons():
    """The page against a stand-in API that serves Scale's queue status with pending reasons."""
    import orjson
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    from scheduler.api.dashboard import add_dashboard_routes
    from scheduler.api.status import status_handler
    from scheduler.status.snapshot import StatusSnapshot

    queue = {
        "count": 2,
        "next": None,
        "previous": None,
        "results": [
            {
                "job_type": {"id": 4, "name": "gpu-train", "version": "2.0", "title": "GPU training"},
                "count": 500,
                "longest_queued": "2026-01-01T00:00:00Z",
                "highest_priority": 50,
                "pending_reasons": {"NO_NODE_FITS": 500},
            },
            {
                "job_type": {"id": 1, "name": "echo", "version": "1.0", "title": "<b>Echo</b>"},
                "count": 100,
                "longest_queued": "2026-01-01T00:00:00Z",
                "highest_priority": 100,
                "pending_reasons": {"BEHIND_BLOCKED_PRIORITY": 100},
            },
        ],
    }

    class Fixed:
        freshness_s = 1e9

        def current(self):
            return StatusSnapshot(time.time(), orjson.dumps(ten_thousand_nodes()))

    async def get_queue(_request):
        return web.json_response(queue)

    app = web.Application()
    add_dashboard_routes(app)
    app.router.add_get("/v6/status/", status_handler(Fixed()))
    app.router.add_get("/v6/queue/status/", get_queue)
    driver = await asyncio.to_thread(chromium_driver)
    server = TestServer(app)
    await server.start_server()
    try:
        await asyncio.to_thread(driver.get, str(server.make_url("/")))

        def rows():
            """the queue table has its two rows"""
            found = driver.find_elements("css selector", "#queue tbody tr")
            return [r.text for r in found] if len(found) == 2 else None

        first, second = await until(rows, 20)
        assert first.startswith("GPU training 2.0") and "500" in first and "NO_NODE_FITS 500" in first
        assert second.startswith("<b>Echo</b> 1.0") and "BEHIND_BLOCKED_PRIORITY 100" in second
        blocking = await asyncio.to_thread(
            lambda: driver.find_element("css selector", "#queue tbody tr:nth-child(2) .chip").get_attribute("class")
        )
        assert blocking.split() == ["chip", "block"]  # head-of-line blocking stands out
        # No event stream on this stand-in: its 404 is the one error expected.
        errors = [
            e for e in await asyncio.to_thread(console_errors, driver, False) if "/v6/events/" not in e["message"]
        ]
        assert errors == []
    finally:
        await asyncio.to_thread(driver.quit)
        await server.close()
