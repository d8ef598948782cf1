"""A status that tells the truth during faults (issue 10, item 8), scenario by scenario on the
engine with a fake clock: the master lost or silent, the database failing writes.

Presence and absence are read off the status document the engine builds (``build_snapshot``), at
fake times chosen around each threshold; nothing sleeps."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from harness import Harness

from scheduler.core.events import Disconnected, Heartbeat, Subscribed
from scheduler.dependencies.database_probe import healthy, unavailable
from scheduler.dependencies.monitor import ProbeResult
from scheduler.tasks.status import TaskState
from scheduler.timefmt import iso

HEARTBEAT_S = 15.0  # what the harness' SUBSCRIBED says, as Mesos does


@pytest.fixture
async def h(tmp_path):
    harness = Harness(tmp_path, agents=2)
    await harness.start()
    return harness


def document(h) -> dict:
    return orjson.loads(h.engine.build_snapshot().body)


def scheduler_warnings(h) -> dict[str, dict]:
    return {w["name"]: w for w in document(h)["scheduler"]["warnings"]}


async def seconds(h, count: int) -> None:
    for _ in range(count):
        await h.cycle()


async def test_disconnected_shows_at_once_with_since_when_and_goes_on_the_next_subscription(h):
    assert "NOT_SUBSCRIBED" not in scheduler_warnings(h)
    lost_at = h.clock.now
    h.post(Disconnected("the master closed the stream"))
    await h.run_until_idle()
    shown = document(h)
    (warning,) = [w for w in shown["scheduler"]["warnings"] if w["name"] == "NOT_SUBSCRIBED"]
    assert warning["title"] == "Not Subscribed to Mesos"
    assert warning["started"] == iso(lost_at)
    assert f"since {iso(lost_at)} (the master closed the stream)" in warning["description"]
    assert shown["scheduler"]["state"]["name"] == "READY"  # Scale has no other scheduler state
    # Every node says its data is stale, since when; none is made OFFLINE (its tasks may still run).
    for node in shown["nodes"]:
        assert node["state"]["name"] == "READY"
        (stale,) = [w for w in node["warnings"] if w["name"] == "STALE_DATA"]
        assert stale["started"] == iso(lost_at) and iso(lost_at) in stale["description"]

    await seconds(h, 30)  # still down: still shown, still since the same moment
    assert scheduler_warnings(h)["NOT_SUBSCRIBED"]["started"] == iso(lost_at)

    h.post(Subscribed("F-1", HEARTBEAT_S))
    await h.run_until_idle()
    back = document(h)  # the next snapshot, without a tick or a cycle
    assert [w for w in back["scheduler"]["warnings"] if w["name"] == "NOT_SUBSCRIBED"] == []
    assert all(node["warnings"] == [] for node in back["nodes"])


async def test_a_silent_master_shows_within_two_heartbeats_since_the_last_one_heard(h):
    h.post(Heartbeat())
    await h.run_until_idle()
    heard_at = h.clock.now
    await seconds(h, 22)  # 1.5 intervals: a heartbeat is overdue, not yet by half an interval
    assert "NOT_SUBSCRIBED" not in scheduler_warnings(h)
    await seconds(h, 1)  # 23 s after the last heartbeat, under 2 intervals (30 s)
    warning = scheduler_warnings(h)["NOT_SUBSCRIBED"]
    assert warning["started"] == iso(h.clock.now)  # raised now ...
    assert f"since {iso(heard_at)} (no heartbeat for 23 s, one expected every 15 s)" in warning["description"]
    assert all(any(w["name"] == "STALE_DATA" for w in n["warnings"]) for n in document(h)["nodes"])

    # A late heartbeat: the stream was only slow.
    h.post(Heartbeat())
    await h.run_until_idle()
    assert "NOT_SUBSCRIBED" not in scheduler_warnings(h)

    # Silent again until the driver gives up (5 heartbeats): contact was lost when the silence began.
    silent_from = h.clock.now
    await seconds(h, 75)
    h.post(Disconnected("no event for 75.0 s (5 heartbeats)"))
    await h.run_until_idle()
    warning = scheduler_warnings(h)["NOT_SUBSCRIBED"]
    assert f"since {iso(silent_from)} (no event for 75.0 s (5 heartbeats))" in warning["description"]


async def test_the_warning_outlives_the_hour_scheduler_warnings_age_out_in(h):
    h.post(Disconnected("the master closed the stream"))
    await h.run_until_idle()
    h.clock.now += 2 * 3600  # two hours down, one tick
    await h.cycle()
    assert "NOT_SUBSCRIBED" in scheduler_warnings(h)


async def test_not_subscribed_yet_at_start(tmp_path):
    h = Harness(tmp_path, agents=1)
    assert await h.engine.load(asyncio.Event())
    await h.cycle()
    assert "(not subscribed yet)" in scheduler_warnings(h)["NOT_SUBSCRIBED"]["description"]
    h.post(Subscribed("F-1", HEARTBEAT_S))
    await h.run_until_idle()
    assert "NOT_SUBSCRIBED" not in scheduler_warnings(h)


async def test_a_description_from_the_master_is_bounded_and_printable(h):
    h.post(Disconnected("SUBSCRIBE answered 500 " + "\x1b[31m" + "x" * 5000))
    await h.run_until_idle()
    description = scheduler_warnings(h)["NOT_SUBSCRIBED"]["description"]
    assert "\x1b" not in description and len(description) < 500


# --- dependencies.database: a failed write counts at once ---


class Probes:
    """The dependency monitor's sections and results, as the daemon hands them to the engine."""

    def __init__(self, h) -> None:
        self.result = ProbeResult(healthy(), h.clock.now, 0.01)
        h.engine.sections = lambda: {"dependencies": {"database": self.result.section}}
        h.engine.probe_results = lambda: {"database": self.result}


def database(h) -> dict:
    return document(h)["dependencies"]["database"]


async def test_database_is_not_ok_from_the_first_failed_write_until_a_write_succeeds(h):
    Probes(h)
    assert database(h)["OK"] is True
    (job,) = h.queue_jobs(1)
    await h.sync()
    h.writer.failing = True
    await h.offer_all()
    await h.cycle()  # the launch's record: one write, failed (the probe has not run since)
    assert h.writer.failures == 1
    shown = database(h)
    assert shown["OK"] is False
    assert shown["errors"] == [{"OPERATIONAL_ERROR": "Database writes failing: database down (test)."}]
    assert shown["detail"] == {"msg": "Unable to write to database"}
    h.writer.failing = False
    await h.offer_all()
    await h.cycle()
    await h.offer_all()
    await h.cycle()
    assert h.driver.accepted() == [f"scale-job-{job}-1"]  # written this time
    assert database(h)["OK"] is True


async def test_a_probe_after_the_failure_answers_and_a_new_failure_counts_again(h):
    probes = Probes(h)
    (job,) = h.queue_jobs(1)
    await h.sync()
    await h.offer_all()
    await h.cycle()
    (task_id,) = h.driver.accepted()
    h.writer.failing = True
    h.post(h.update(task_id, TaskState.FINISHED))
    await h.run_until_idle()  # the try's end: written before it is acknowledged, kept to retry
    failures = h.writer.failures
    assert failures >= 1 and not h.driver.of("ACKNOWLEDGE")
    assert database(h)["OK"] is False
    # A probe reached the database after that failure: the probe's answer stands ...
    h.clock.now += 1
    probes.result = ProbeResult(healthy(), h.clock.now, 0.01)
    assert database(h)["OK"] is True
    # ... until the writer's retry fails, although its error text is the same.
    await h.cycle()
    assert h.writer.failures > failures
    assert database(h)["OK"] is False
    h.writer.failing = False
    await h.cycle()
    assert [end.task_id for end in h.writer.ended()] == [task_id] and h.driver.of("ACKNOWLEDGE")
    assert database(h)["OK"] is True
    # A failing probe shows as the probe says.
    probes.result = ProbeResult(unavailable("connection refused"), h.clock.now + 1, 0.01)
    assert database(h)["errors"] == [{"OPERATIONAL_ERROR": "Database unavailable: connection refused."}]
