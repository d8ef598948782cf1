"""Launches in flight are bounded: placement waits for the master's answers instead of queueing calls.

The real engine and core against the harness's fakes (fake clock), with a driver whose ACCEPTs the
master answers only when the test says (a slow master), and calls made as tasks so that one waiting
for its answer does not hold up the others.
"""

from __future__ import annotations

import asyncio

import pytest
from harness import Call, Harness, MemoryStore, RecordingDriver

from scheduler.core.inputs import JobsQueued
from scheduler.runtime import engine as engine_module
from scheduler.runtime.loop_lag import LoopLagMonitor
from scheduler.runtime.state_store import GAP_WAIT_S


class SlowMaster(RecordingDriver):
    """ACCEPTs wait for ``answer``; the master has the tasks (an ACCEPT call is recorded) only then."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting: list[tuple[asyncio.Future, tuple[str, ...], tuple[str, ...]]] = []
        self.answered: set[str] = set()

    async def launch(self, offer_ids, task_infos, refuse_seconds) -> None:
        self.task_infos += task_infos
        task_ids = tuple(info["task_id"]["value"] for info in task_infos)
        answer = asyncio.get_running_loop().create_future()
        self.waiting.append((answer, tuple(offer_ids), task_ids))
        await answer
        self.calls.append(Call("ACCEPT", tuple(offer_ids), task_ids))
        self.answered.update(task_ids)

    def answer(self, count: int | None = None) -> int:
        """Answer the oldest ``count`` ACCEPTs waiting (all by default); how many tasks they held."""
        chosen, self.waiting = self.waiting[:count], self.waiting[len(self.waiting[:count]) :]
        for future, _, _ in chosen:
            future.set_result(None)
        return sum(len(task_ids) for _, _, task_ids in chosen)


class TaskCalls:
    """Background calls as tasks: ``flush`` starts the queued ones and lets them run; it counts the
    calls started and finished, so the harness is idle while calls only wait for the master."""

    def __init__(self) -> None:
        self.queue: list = []
        self.running: set[asyncio.Task] = set()
        self._finished = 0

    def __len__(self) -> int:
        return len(self.queue) + len(self.running)

    def waiting(self, key) -> bool:
        return False

    def oldest_wait_s(self) -> float:
        return 0.0  # the calls here wait for the master's answers, not in a queue

    def spawn(self, call, what: str, key=None, *, first: bool = False) -> None:
        self.queue.append(call)

    def _done(self, task: asyncio.Task) -> None:
        self.running.discard(task)
        self._finished += 1

    async def flush(self) -> int:
        started = len(self.queue)
        for call in self.queue:
            task = asyncio.ensure_future(call())
            task.add_done_callback(self._done)
            self.running.add(task)
        self.queue = []
        for _ in range(5):
            await asyncio.sleep(0)
        finished, self._finished = self._finished, 0
        return started + finished

    async def drain(self, timeout_s: float) -> bool:
        return not self.running


def slow(h: Harness) -> SlowMaster:
    driver = SlowMaster()
    h.driver = h.engine.driver = driver
    h.calls = h.engine.calls = TaskCalls()
    return driver


def recorded_unanswered(h: Harness, driver: SlowMaster) -> list[str]:
    """Tries stored as launched that the master has not taken: what the bound is about."""
    return [task_id for task_id in h.writer.launched() if task_id not in driver.answered]


@pytest.fixture
async def h(tmp_path):
    harness = Harness(tmp_path, agents=10)
    await harness.start()
    return harness


async def test_a_burst_never_has_more_in_flight_than_the_bound_and_resumes_as_answers_come(h):
    h.state.launches.limit = 6
    h.state.launches.most = 0  # the start's node tasks counted too
    jobs = h.queue_jobs(40)
    await h.sync()
    driver = slow(h)
    offers = await h.offer_all()
    await h.cycle()
    assert len(h.writer.launched()) == 6 and len(recorded_unanswered(h, driver)) == 6
    assert len(h.state.launches) == 6
    gauges = h.view().gauges  # what /metrics publishes
    assert (gauges["launches_in_flight"], gauges["launches_in_flight_most"], gauges["launches_in_flight_limit"]) == (
        6,
        6,
        6,
    )
    (queue,) = h.view().queue
    assert queue.pending_reasons == {"LAUNCHES_IN_FLIGHT": 34}  # they keep their place
    used = {offer_id for _, offer_ids, _ in driver.waiting for offer_id in offer_ids}
    # The rest are kept for the next pass, a second at most, then go back with the short filter.
    assert not h.driver.declined() and len(h.state.offers) == len(offers) - len(used)
    await h.cycle()
    assert h.driver.declined() == set(offers) - used and not h.state.offers
    # Not needed for a while (launches wait for room): declined with Mesos' default filter, 5 s,
    # not the 1 s of offers that simply did not fit while work waits.
    assert {call.refuse_seconds for call in h.driver.of("DECLINE")} == {5.0}
    assert h.engine._refuse_s() == 1.0

    # No answer yet: more offers, more passes, nothing more placed or written.
    for _ in range(3):
        await h.offer_all()
        await h.cycle()
    assert len(h.writer.launched()) == 6
    assert h.view().queue[0].pending_reasons == {"LAUNCHES_IN_FLIGHT": 34}

    peak = 0
    for _ in range(60):
        if not h.state.queue and not driver.waiting:
            break
        driver.answer(1)  # the master takes one ACCEPT per round
        await h.run_until_idle()
        await h.offer_all()
        await h.cycle()
        peak = max(peak, len(recorded_unanswered(h, driver)), len(h.state.launches))
        assert len(recorded_unanswered(h, driver)) <= 6
    assert peak == 6
    assert sorted(driver.accepted()) == sorted(f"scale-job-{job}-1" for job in jobs)  # each once
    assert len(h.state.launches) == 0 and h.state.launches.most == 6
    assert h.view().gauges["launches_in_flight"] == 0 and h.view().gauges["launches_in_flight_most"] == 6


async def test_one_pass_places_at_most_its_share_so_one_write_stays_small(h):
    h.state.launches.per_pass = 5
    h.queue_jobs(18)
    await h.sync()
    sizes = []
    submit = h.writer.submit

    def counting(records, done, *, droppable):
        sizes.append(len(records))
        submit(records, done, droppable=droppable)

    h.writer.submit = counting
    for _ in range(4):
        await h.offer_all()
        await h.cycle()
    assert [size for size in sizes if size] == [5, 5, 5, 3]
    assert len(h.driver.accepted()) == 18


async def test_an_unanswered_accept_is_reconciled_and_its_offers_declined(h):
    (job,) = h.queue_jobs(1)
    await h.sync()
    h.driver.refuse_accepts = [0]  # no answer (a timeout)
    await h.offer_all()
    await h.cycle()
    (failed,) = h.driver.of("ACCEPT-FAILED")
    assert failed.task_ids == (f"scale-job-{job}-1",)
    # The offers the ACCEPT named are ours still if the master never took it: handed back.
    assert set(failed.offer_ids) <= h.driver.declined()
    assert any(f"scale-job-{job}-1" in call.task_ids for call in h.driver.of("RECONCILE"))
    assert len(h.state.launches) == 0  # the answer (none) is in: the bound does not keep it


async def test_a_refused_accept_and_a_failed_write_leave_nothing_in_flight(h):
    h.queue_jobs(2)
    await h.sync()
    h.driver.refuse_accepts = [400]
    await h.offer_all([1])
    await h.cycle()
    assert h.driver.of("ACCEPT-FAILED") and len(h.state.launches) == 0
    h.writer.failing = True
    await h.offer_all()
    await h.cycle()
    assert not h.driver.of("ACCEPT") and len(h.state.launches) == 0


async def test_loop_lag_becomes_a_scheduler_warning_and_goes_when_the_loop_keeps_time(h):
    monitor = LoopLagMonitor(warn_ms=200, window_s=60, clock=h.clock)
    h.engine.loop_lag = monitor
    monitor.record(0.05)
    await h.cycle()
    assert "EVENT_LOOP_LAG" not in h.state.warnings.names()
    monitor.record(0.9)  # a stall of 900 ms
    await h.cycle()
    (warning,) = [w for w in h.state.warnings.active(h.clock.now) if w["name"] == "EVENT_LOOP_LAG"]
    assert "900 ms" in warning["description"]
    assert b"EVENT_LOOP_LAG" in h.engine.build_snapshot().body
    h.clock.now += 61  # out of the window, and the loop keeps time since
    monitor.record(0.01)
    await h.cycle()
    assert "EVENT_LOOP_LAG" not in h.state.warnings.names()


class CountingStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads: list[tuple[int, tuple, int]] = []  # (after id, gaps, rows)

    async def queued_jobs(self, after_id=0, gaps=()):
        read = await super().queued_jobs(after_id, gaps)
        self.reads.append((after_id, tuple(gaps), len(read.jobs)))
        return read


async def test_queued_jobs_are_read_incrementally_and_one_committed_late_is_found(tmp_path):
    h = Harness(tmp_path, agents=2)
    h.store = h.engine.store = CountingStore()
    await h.start()
    h.state.paused = True  # nothing placed: what is read stays queued
    jobs = h.queue_jobs(5)
    late = h.store.queued.pop(2)  # its transaction commits after the others'
    await h.sync()
    assert sorted(j.job_id for j in h.state.queue) == sorted(set(jobs) - {late.job_id})
    h.store.queued.append(late)
    h.clock.now += 1
    await h.sync()
    assert late.job_id in h.state.queue
    reads_before = len(h.store.reads)
    for _ in range(12):  # more than the old full reload's period: nothing is read again
        h.clock.now += 1
        await h.sync()
    assert all(after >= max(jobs) and rows == 0 for after, _, rows in h.store.reads[reads_before:])
    # An id that never commits is looked for only a while.
    h.queue_jobs(1)
    skipped = h.queue_jobs(1)[0]
    h.queue_jobs(1)
    h.store.queued = [j for j in h.store.queued if j.job_id != skipped]
    await h.sync()
    assert h.store.reads[-1][1] == ()  # read from the highest: no gap known yet
    h.clock.now += 1
    await h.sync()
    assert h.store.reads[-1][1] == ((skipped, skipped),)
    h.clock.now += GAP_WAIT_S
    await h.sync()
    h.clock.now += 1
    await h.sync()
    assert h.store.reads[-1][1] == ()
    assert len(h.state.queue) == 7


async def test_offers_at_the_bound_wait_a_second_at_most_and_are_used_as_soon_as_room_comes(h):
    h.state.launches.limit = 2
    h.queue_jobs(5)
    await h.sync()
    driver = slow(h)
    await h.offer_all()
    await h.cycle()
    assert sum(len(task_ids) for _, _, task_ids in driver.waiting) == 2 and len(h.writer.launched()) == 2
    event = h.offers([3])
    h.post(event)
    await h.run_until_idle()
    await h.cycle()  # at the bound: offer kept, not used
    (offer,) = event.offers
    assert offer.id not in h.driver.declined() and len(h.state.offers) == 1
    h.engine._wakeup.clear()
    driver.answer()
    await h.run_until_idle()
    assert h.engine._wakeup.is_set()  # the answers wake the cycle loop: a pass now, not a second later
    h.engine.step_cycle()  # what the woken loop runs (the clock has not moved)
    await h.run_until_idle()
    assert len(h.writer.launched()) == 4 and offer.id not in h.driver.declined()
    event = h.offers([4])
    h.post(event)
    await h.run_until_idle()
    await h.cycle()
    h.clock.now += 0.5
    await h.cycle()  # kept 1.5 s by now: handed back
    assert event.offers[0].id in h.driver.declined() and not h.state.offers


async def test_offers_without_room_go_back_spread_out_over_declines_with_their_own_filters(h):
    """Declined with one filter, a burst's surplus came back all at once (at 10,000 agents, 50 s later,
    after the scheduler had run only as many tasks as its own ended ones made room for): each slot of
    returns is a DECLINE of its own, the first after Mesos' default 5 s. Offers that merely did not
    fit keep 1 s."""
    h.engine.surplus_returns.returns_per_s = 4
    h.state.launches.limit = 2
    h.queue_jobs(5)
    await h.sync()
    slow(h)
    await h.offer_all()
    await h.cycle()
    h.clock.now += 1.5
    await h.cycle()  # the offers kept for want of room are handed back
    declines = h.driver.of("DECLINE")
    assert [(call.refuse_seconds, len(call.offer_ids)) for call in declines] == [(5.0, 4), (6.0, 4), (7.0, 1)]
    assert sorted(i for call in declines for i in call.offer_ids) == sorted(h.driver.declined())
    assert h.engine._refuse_s() == 1.0


async def test_a_large_read_of_queued_jobs_is_handed_to_the_core_in_bounded_inputs(tmp_path, monkeypatch):
    monkeypatch.setattr(engine_module, "JOBS_PER_INPUT", 4)
    h = Harness(tmp_path, agents=2)
    await h.start()
    h.state.paused = True  # nothing placed: what is read stays queued
    jobs = h.queue_jobs(10)
    await h.engine.sync_database()
    posted = [item for item in h.engine._inputs if isinstance(item, JobsQueued)]
    assert [len(item.jobs) for item in posted] == [4, 4, 2]  # the consumer's turns can come between them
    assert [job.job_id for item in posted for job in item.jobs] == sorted(jobs)
    await h.run_until_idle()
    assert sorted(job.job_id for job in h.state.queue) == sorted(jobs)
