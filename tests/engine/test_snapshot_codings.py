"""A snapshot is compressed before it is published in the codings readers asked the previous one for."""

from __future__ import annotations

import asyncio
import gzip

import orjson
import pytest
from harness import Harness

from scheduler.api import status


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
