"""ACCEPTs go before the acknowledgements queued in the call pool: tries wait for their answer."""

import asyncio
import gc

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


async def test_acknowledgements_are_made_oldest_first_with_the_other_calls_once_per_update():
    now = [100.0]
    calls = BackgroundCalls(workers=1, clock=lambda: now[0])
    made: list[tuple] = []
    gate = asyncio.Event()

    async def blocking():
        await gate.wait()

    def call(name):
        async def run():
            made.append((name,))

        return run

    async def acknowledger(agent_id, task_id, uuid):
        made.append((agent_id, task_id, uuid))

    calls.acknowledger = acknowledger
    calls.spawn(blocking, "busy")
    await asyncio.sleep(0)  # the one worker is now busy
    for step, queue in enumerate(
        (
            lambda: calls.acknowledge("S1", "t1", "u1", "TASK_STARTING"),
            lambda: calls.spawn(call("decline"), "decline"),
            lambda: calls.acknowledge("S1", "t1", "u2", "TASK_RUNNING"),
            lambda: calls.acknowledge("S1", "t1", "u2", "TASK_RUNNING"),  # the master's resend
            lambda: calls.spawn(call("kill"), "kill"),
            lambda: calls.acknowledge("S2", "t2", "u3", "TASK_FINISHED"),
        )
    ):
        now[0] = 100.0 + step
        queue()
    calls.spawn(call("accept"), "accept", first=True)
    assert len(calls) == 7 and calls.waiting(("ack", "t1", "u2", "TASK_RUNNING"))
    assert calls.oldest_wait_s() == 5.0  # the first acknowledgement, queued at 100
    gate.set()
    assert await calls.drain(timeout_s=2.0)
    assert made == [
        ("accept",),
        ("S1", "t1", "u1"),
        ("decline",),
        ("S1", "t1", "u2"),
        ("kill",),
        ("S2", "t2", "u3"),
    ]
    assert not calls.waiting(("ack", "t1", "u2", "TASK_RUNNING")) and calls.done == 7


async def test_a_queued_acknowledgement_holds_nothing_the_collector_walks():
    # Thousands wait under load: each must leave the collector's sight at its first collection.
    from scheduler.tasks.status import TaskState

    calls = BackgroundCalls(workers=1)
    gate = asyncio.Event()

    async def blocking():
        await gate.wait()

    calls.spawn(blocking, "busy")
    await asyncio.sleep(0)
    calls.acknowledge("S1", "t1", "dXVpZA==", TaskState.RUNNING)
    gc.collect()
    (entry,) = calls._acks
    (key,) = calls._keys
    assert key == ("ack", "t1", "dXVpZA==", "TASK_RUNNING") and type(key[3]) is str
    assert not gc.is_tracked(entry) and not gc.is_tracked(key)
    gate.set()
    calls.acknowledger = lambda *_: asyncio.sleep(0)
    assert await calls.drain(timeout_s=2.0)
