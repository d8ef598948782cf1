"""Offer etiquette through the engine: SUPPRESS while idle, REVIVE when work arrives (at most once a
second), long decline filters while idle, the re-subscription reset, and the held-offer warning.

The real engine and core against the recording fakes of ``harness.py`` and a fake clock: the calls
to the master are read off the recording driver, with the fake time each was made at.
"""

from __future__ import annotations

import orjson
import pytest
from harness import Harness

from scheduler.core.events import Disconnected, Subscribed
from scheduler.core.inputs import FlagsRead
from scheduler.core.offer_etiquette import SUPPRESS_AFTER_IDLE_S


@pytest.fixture
async def h(tmp_path):
    harness = Harness(tmp_path, agents=2)
    await harness.start()
    return harness


async def idle(h: Harness, seconds: int) -> None:
    """Seconds of cycles with every agent offering (as an unsuppressed master would)."""
    for _ in range(seconds):
        await h.offer_all()
        await h.cycle()


def warnings(h: Harness) -> dict[str, str]:
    document = orjson.loads(h.engine.build_snapshot().body)
    return {w["name"]: w["description"] for w in document["scheduler"]["warnings"]}


async def test_idle_suppresses_once_and_declines_with_the_long_filter(h):
    await idle(h, 10)
    assert len(h.driver.of("SUPPRESS")) == 1
    assert not h.driver.of("REVIVE")
    declines = h.driver.of("DECLINE")
    assert declines and {call.refuse_seconds for call in declines} == {h.engine.settings.offer_refuse_s} == {300.0}
    assert h.engine.etiquette.suppressed


async def test_suppress_waits_for_a_short_idle_spell(h):
    """A steady trickle of jobs does not flap SUPPRESS/REVIVE: SUPPRESS only after two idle seconds."""
    await h.cycle()
    assert not h.driver.of("SUPPRESS")  # idle for less than SUPPRESS_AFTER_IDLE_S
    await h.cycle()
    await h.cycle()
    assert len(h.driver.of("SUPPRESS")) == 1
    assert SUPPRESS_AFTER_IDLE_S == 2.0


async def test_a_queued_job_revives_offers_and_starts(h):
    await idle(h, 5)
    assert len(h.driver.of("SUPPRESS")) == 1
    (job,) = h.queue_jobs(1)
    await h.sync()
    await h.cycle()  # the cycle that sees work: REVIVE, before any offer came back
    (revive,) = h.driver.of("REVIVE")
    assert not h.engine.etiquette.suppressed
    await h.offer_all()  # the master offers again
    await h.cycle()
    assert h.driver.accepted() == [f"scale-job-{job}-1"]
    # While work waited, declines carried the short filter.
    after = h.driver.calls[h.driver.calls.index(revive) :]
    assert {c.refuse_seconds for c in after if c.kind == "DECLINE"} <= {1.0}


async def test_a_burst_of_submissions_revives_at_most_once_a_second(tmp_path):
    h = Harness(tmp_path, agents=2, cpus=16.0)
    await h.start()
    await idle(h, 5)
    h.driver.calls.clear()
    started = h.clock.now
    # 20 batches within one second. Each is placed at once and the cycle after it finds nothing
    # waiting, so its offers go back with the long filter: each new batch would want a REVIVE.
    for _ in range(20):
        h.queue_jobs(1)
        await h.sync()
        for offers in (False, True, True):
            if offers:
                await h.offer_all()
            h.clock.now += 0.015
            h.engine.step_cycle()
            await h.run_until_idle()
    assert h.clock.now - started < 1.0
    assert {c.refuse_seconds for c in h.driver.of("DECLINE")} == {1.0, 300.0}  # idle between batches
    revives = [call.at for call in h.driver.of("REVIVE")]
    assert len(revives) == 1  # the next one is allowed a second after the first
    assert len(h.driver.accepted()) == 20  # (the fake master offered regardless of its filters)
    h.queue_jobs(1)  # work that waits for the master's filtered offers: REVIVE as soon as allowed
    await h.sync()
    await h.cycle()
    revives = [call.at for call in h.driver.of("REVIVE")]
    assert len(revives) == 2 and revives[1] - revives[0] >= 1.0


async def test_a_resubscription_resets_the_suppression(h):
    await idle(h, 5)
    assert len(h.driver.of("SUPPRESS")) == 1
    h.post(Disconnected("stream lost"), Subscribed("F-1", 15.0))
    await h.run_until_idle()
    assert not h.engine.etiquette.suppressed  # Mesos subscribed us unsuppressed
    await idle(h, 5)
    assert len(h.driver.of("SUPPRESS")) == 2  # suppressed anew
    # Work after a re-subscription revives, whatever filters the master kept.
    h.post(Disconnected("stream lost"), Subscribed("F-1", 15.0))
    h.queue_jobs(1)
    await h.sync()
    await h.cycle()
    assert len(h.driver.of("REVIVE")) == 1


async def test_a_failed_suppress_is_sent_again(h):
    h.driver.refuse_offer_calls = [503]
    await idle(h, 4)
    assert len(h.driver.of("SUPPRESS-FAILED")) == 1
    assert len(h.driver.of("SUPPRESS")) == 1  # the next cycle asked again
    assert h.engine.etiquette.suppressed


async def test_a_paused_scheduler_suppresses_and_a_resumed_one_revives(h):
    h.queue_jobs(3)
    await h.sync()
    h.post(FlagsRead(paused=True, message_handlers=0))
    await idle(h, 4)
    assert len(h.driver.of("SUPPRESS")) == 1 and not h.driver.accepted()
    h.post(FlagsRead(paused=False, message_handlers=0))
    await h.cycle()
    assert len(h.driver.of("REVIVE")) == 1


async def test_a_node_task_due_revives(h):
    await idle(h, 5)
    assert h.engine.etiquette.suppressed
    for _ in range(300):  # health checks come due after five minutes
        h.clock.now += 1.0
        h.engine.step_cycle()
        await h.run_until_idle()
        if h.driver.of("REVIVE"):
            break
    (revive,) = h.driver.of("REVIVE")
    await h.offer_all()
    await h.cycle()
    assert any("health-check" in t for t in h.driver.accepted("scale-"))


async def test_an_offer_held_past_the_threshold_raises_a_warning_until_it_is_answered(h):
    h.queue_jobs(1)
    await h.sync()
    await h.offer_all()
    for _ in range(12):  # the launch's record is not written: its offer stays in our hands
        await h.cycle(write=False)
    assert "OFFERS_HELD" in warnings(h)
    assert warnings(h)["OFFERS_HELD"].startswith("1 offers held longer than 10 s")
    await h.run_until_idle()  # written: ACCEPT
    await h.cycle()
    assert h.driver.accepted() and "OFFERS_HELD" not in warnings(h)


async def test_offers_voided_by_a_disconnection_are_no_longer_counted_as_held(h):
    h.queue_jobs(1)
    await h.sync()
    await h.offer_all()
    await h.cycle(write=False)  # the launch's record is being written: its offer is in our hands
    h.post(Disconnected("the master closed the stream"))  # Mesos rescinds every offer of the framework
    for _ in range(12):
        await h.cycle(write=False)
    assert "NOT_SUBSCRIBED" in warnings(h)  # the ticks ran: the held offers were checked meanwhile
    assert "OFFERS_HELD" not in warnings(h)


async def test_nodes_stay_online_while_offers_are_suppressed_and_the_no_offer_rule_resumes_after(h):
    """Scale's rule takes a node silent for 5 minutes offline; silence we asked for (SUPPRESS, long
    filters) does not count, and once offers are expected again the rule counts from then."""
    await idle(h, 5)
    assert h.engine.etiquette.suppressed
    for node in h.state.nodes:  # no health check comes due in this test: no REVIVE before we want it
        h.state.node_tasks.work(node).health_due_at = h.clock.now + 10_000
    for _ in range(400):
        h.clock.now += 1.0
        h.engine.step_cycle()
        await h.run_until_idle()
    assert {n.state(False).name for n in h.state.nodes} == {"READY"}
    assert not h.driver.of("REVIVE")
    h.queue_jobs(100)  # more than fits: work waits, REVIVE, and the fake master sends nothing
    await h.sync()
    await h.cycle()
    assert len(h.driver.of("REVIVE")) == 1
    for _ in range(299):
        await h.cycle()
    assert {n.state(False).name for n in h.state.nodes} == {"READY"}
    for _ in range(2):
        await h.cycle()
    assert {n.state(False).name for n in h.state.nodes} == {"OFFLINE"}  # 5 minutes expected, none came
