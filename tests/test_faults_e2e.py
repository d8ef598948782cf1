"""The served status during faults (issue 10, item 8), end to end against the simulated master.

The master restarts (down for a while) or goes silent through the simulator's control API; the
status must say so within two heartbeat intervals and stop saying so within 2 s of the scheduler
being subscribed (or heard) again. Heartbeats are shortened; the figures are printed (``-s``).
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
from e2ekit import scheduler_against, status_when

from scheduler.sim import SimConfig, serve_sim

FAST = {"STATUS_INTERVAL": "0.25", "MESOS_BACKOFF_MAX": "1"}


def not_subscribed(document) -> dict | None:
    return next((w for w in document["scheduler"]["warnings"] if w["name"] == "NOT_SUBSCRIBED"), None)


def all_stale(document) -> bool:
    return bool(document["nodes"]) and all(
        any(w["name"] == "STALE_DATA" for w in node["warnings"]) for node in document["nodes"]
    )


async def settled(http):
    return await status_when(
        http,
        lambda d: (
            len(d["nodes"]) == 2
            and all(n["state"]["name"] == "READY" and n["warnings"] == [] for n in d["nodes"])
            and not_subscribed(d) is None
        ),
    )


async def control(sim, path: str, body: dict) -> None:
    async with aiohttp.ClientSession() as session, session.post(f"{sim.url}{path}", json=body) as resp:
        assert resp.status == 200, await resp.text()


async def until(predicate, timeout: float) -> float:
    """Poll ``predicate`` (in-process state, not a sleep standing for an event) every 20 ms; when it held."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "never happened"
        await asyncio.sleep(0.02)
    return time.monotonic()


async def test_master_down_shows_within_two_heartbeats_and_clears_within_2_s_of_resubscribing(tmp_path):
    heartbeat_s = 1.0
    config = SimConfig(agents=2, allocation_interval_s=0.2, task_duration_s=0.5, heartbeat_interval_s=heartbeat_s)
    sim = await serve_sim(config, "127.0.0.1", 0)
    try:
        async with scheduler_against(sim, tmp_path, **FAST) as (daemon, http):
            await settled(http)
            subscriptions = daemon.driver.subscriptions
            down_at = time.monotonic()
            await control(sim, "/sim/master/restart", {"down_seconds": 4})
            down = await status_when(http, lambda d: not_subscribed(d) is not None, timeout=2 * heartbeat_s)
            shown_after = time.monotonic() - down_at
            assert all_stale(down)
            assert {n["state"]["name"] for n in down["nodes"]} == {"READY"}  # not made OFFLINE
            assert down["scheduler"]["state"]["name"] == "READY"
            since = not_subscribed(down)["started"]
            # Still shown, with the same start, while the master answers 503.
            later = await status_when(http, lambda d: time.monotonic() - down_at > 3)
            assert not_subscribed(later)["started"] == since

            back_at = await until(lambda: daemon.driver.subscriptions > subscriptions, timeout=15)
            await status_when(http, lambda d: not_subscribed(d) is None and not all_stale(d), timeout=2)
            cleared_after = time.monotonic() - back_at
            print(
                f"\nmaster down 4 s, heartbeat {heartbeat_s} s: warning shown {shown_after:.2f} s after the"
                f" restart, re-subscribed {back_at - down_at:.2f} s after it, cleared {cleared_after:.2f} s later"
            )
    finally:
        await sim.close()


async def test_a_silent_master_shows_within_two_heartbeats_and_clears_when_heard_again(tmp_path):
    heartbeat_s = 4.0
    config = SimConfig(agents=2, allocation_interval_s=0.2, task_duration_s=0.5, heartbeat_interval_s=heartbeat_s)
    sim = await serve_sim(config, "127.0.0.1", 0)
    try:
        # MESOS_MISSED_HEARTBEATS stays at 5 (20 s): the warning must come from the core, before the
        # driver gives the stream up.
        async with scheduler_against(sim, tmp_path, **FAST) as (daemon, http):
            await settled(http)
            subscriptions = daemon.driver.subscriptions
            silent_at = time.monotonic()
            await control(sim, "/sim/master/silence", {"seconds": 12})
            silent = await status_when(http, lambda d: not_subscribed(d) is not None, timeout=2 * heartbeat_s)
            shown_after = time.monotonic() - silent_at
            assert "no heartbeat for" in not_subscribed(silent)["description"]
            assert all_stale(silent)
            assert daemon.driver.subscriptions == subscriptions and daemon.driver.subscribed  # the stream is kept
            # The silence ends: the next heartbeat on the same stream clears it, no re-subscription.
            await status_when(http, lambda d: not_subscribed(d) is None and not all_stale(d), timeout=12 + heartbeat_s)
            cleared_after = time.monotonic() - silent_at - 12
            assert daemon.driver.subscriptions == subscriptions
            print(
                f"\nmaster silent 12 s, heartbeat {heartbeat_s} s: warning shown {shown_after:.2f} s after the"
                f" silence began, cleared {cleared_after:.2f} s after it ended"
            )
    finally:
        await sim.close()
