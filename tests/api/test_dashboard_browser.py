"""The dashboard in a real headless Chromium, against a whole scheduler and a simulated master.

Needs Debian's ``chromium`` and ``chromium-driver`` (.ci/run installs them) and selenium (the dev
extra). Skipped without them, unless REQUIRE_SERVICES=1, when their absence fails the run.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time

import pytest

from scheduler.sim import SimConfig, serve_sim
from tests.e2ekit import scheduler_against, status_when

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

            # The only error tolerated: the queue status answering 404 from a server without that route.
            async with http.get("/v6/queue/status/") as resp:
                queue_missing = resp.status == 404
            log = await asyncio.to_thread(driver.get_log, "browser")
            errors = [
                entry
                for entry in log
                if entry["level"] == "SEVERE"
                and not (queue_missing and "/v6/queue/status/" in entry["message"] and "404" in entry["message"])
            ]
            assert errors == [], errors
            print(f"node shown OFFLINE {shown_after:.2f} s after its agent was removed")
    finally:
        await asyncio.to_thread(driver.quit)
        await sim.close()
