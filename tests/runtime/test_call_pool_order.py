"""ACCEPTs go before the acknowledgements queued in the call pool: tries wait for their answer."""

import asyncio

from scheduler.runtime.call_pool import BackgroundCalls


async def test_a_call_queued_first_is_made_before_those_queued_earlier():
    calls = BackgroundCalls(workers=1)
    made: list[str] = []
    gate = asyncio.Event()

    async def blocking():
        made.append("busy")
        await gate.wait()

    def call(name):
        async def run():
            made.append(name)

        return run

    calls.spawn(blocking, "busy")
    await asyncio.sleep(0)  # the one worker is now busy
    for name in ("ack-1", "ack-2"):
        calls.spawn(call(name), name)
    calls.spawn(call("accept-1"), "accept-1", first=True)
    calls.spawn(call("accept-2"), "accept-2", first=True)
    assert len(calls) == 5
    gate.set()
    assert await calls.drain(timeout_s=2.0)
    assert made == ["busy", "accept-1", "accept-2", "ack-1", "ack-2"]


async def test_the_oldest_wait_is_that_of_the_call_queued_longest_and_not_yet_made():
    now = [100.0]
    calls = BackgroundCalls(workers=1, clock=lambda: now[0])
    gate = asyncio.Event()

    async def blocking():
        await gate.wait()

    async def quick():
        pass

    assert calls.oldest_wait_s() == 0.0
    calls.spawn(blocking, "busy")
    await asyncio.sleep(0)  # being made: no longer waiting in the queue
    assert calls.oldest_wait_s() == 0.0
    calls.spawn(quick, "ack", key=("ack", "t1"))
    now[0] += 2.0
    calls.spawn(quick, "accept", first=True)  # made first, but the acknowledgement waited longer
    now[0] += 1.5
    assert calls.oldest_wait_s() == 3.5 and calls.waiting(("ack", "t1"))
    gate.set()
    assert await calls.drain(timeout_s=2.0)
    assert calls.oldest_wait_s() == 0.0 and not calls.waiting(("ack", "t1"))


async def test_each_call_made_is_observed_with_its_wait_and_its_answer_time():
    now = [100.0]
    calls = BackgroundCalls(workers=1, clock=lambda: now[0])
    seen: list[tuple[float, float]] = []
    calls.observe = lambda queued, answered: seen.append((queued, answered))

    async def slow():
        now[0] += 0.25  # the master takes this long to answer

    async def failing():
        now[0] += 0.5
        raise RuntimeError("no answer")

    calls.spawn(slow, "first")
    calls.spawn(failing, "second")
    now[0] += 2.0  # both queued this long before a worker took the first
    assert await calls.drain(timeout_s=2.0)
    assert seen == [(2.0, 0.25), (2.25, 0.5)] and calls.failures == 1
