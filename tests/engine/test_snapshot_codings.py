"""A snapshot is compressed before it is published in the codings readers asked the previous one for,
and warmed up again before its build while much changed during its warm-up."""

from __future__ import annotations

import asyncio
import gzip

import orjson
import pytest
from harness import Harness

from scheduler.api import status
from scheduler.runtime import engine as engine_module
from scheduler.status.document import WARM_NODES_PER_STEP, StatusBuilder


@pytest.fixture
async def h(tmp_path):
    harness = Harness(tmp_path, agents=2)
    await harness.start()
    return harness


async def test_a_coding_read_once_is_made_for_every_next_snapshot_before_it_is_published(h):
    await h.engine._snapshot()
    first = h.engine.snapshots.current
    assert first.codings_made() == ()  # nobody has read it: nothing compressed
    await h.engine._snapshot()
    second = h.engine.snapshots.current
    assert second is not first and second.codings_made() == ()
    body = await status.encoded(second, "gzip", asyncio.Lock())  # a request's path for gzip
    h.clock.now += 1
    await h.engine._snapshot()
    third = h.engine.snapshots.current
    assert third.codings_made() == ("gzip",)  # ready when published: no request waits for it
    assert gzip.decompress(third.encoded_if_ready("gzip")) == third.body
    assert orjson.loads(gzip.decompress(body)) == orjson.loads(second.body)
    await h.engine._snapshot()  # nobody read the third: the fourth is not compressed ahead
    assert h.engine.snapshots.current.codings_made() == ()


class ScriptedStale(StatusBuilder):
    """The real builder, counting its warm-ups, with what is stale after each one scripted."""

    def __init__(self, stale_after_each: list[int]) -> None:
        super().__init__()
        self.rounds = 0
        self.script = list(stale_after_each)

    def warm(self, core, per_step=WARM_NODES_PER_STEP):
        self.rounds += 1
        yield from super().warm(core, per_step)

    def stale_entries(self, core) -> int:
        return self.script.pop(0)


@pytest.mark.parametrize(
    ("stale_after_each", "rounds"),
    [
        ([0], 1),  # little changed while it warmed: the build takes it in
        ([WARM_NODES_PER_STEP + 1, 3], 2),  # much changed (a burst's start): warmed again first
        ([10_000] * 5, engine_module.WARM_ROUNDS),  # never more than a few rounds: the build takes the rest
    ],
)
async def test_the_status_is_warmed_again_while_much_changed_during_its_warm_up(h, stale_after_each, rounds):
    builder = ScriptedStale(stale_after_each)
    h.engine.status_builder = builder
    await h.engine._snapshot()
    assert builder.rounds == rounds and builder.script == stale_after_each[rounds:]
    assert h.engine.snapshots.current is not None  # then built and published
