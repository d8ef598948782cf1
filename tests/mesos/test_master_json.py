"""GETs of the master's listings: a large one is parsed, and read by the caller's ``read``, in a
thread (10,000 agents: about 60 ms the event loop would otherwise wait out in two steps)."""

from __future__ import annotations

import gc
import threading

import aiohttp
import pytest
from driverkit import running_driver, sim_config
from test_driver import first_offers

import scheduler.mesos.driver as driver_module
from scheduler.mesos.agents import parse_agents
from scheduler.mesos.driver import CallError, _parse_and_read_uncollected, _read_at_most
from scheduler.sim.server import serve_sim


async def agents_read(agents: int) -> tuple[int, list, int, bool]:
    """(the listing's size in bytes, the reports read from it, the thread that read them, whether the
    garbage collector ran meanwhile) from a simulator of ``agents`` agents."""
    handle = await serve_sim(sim_config(agents=agents), "127.0.0.1", 0)
    read_in: list[int] = []
    collecting: list[bool] = []

    def read(document):
        read_in.append(threading.get_ident())
        collecting.append(gc.isenabled())
        return parse_agents(document)

    try:
        async with aiohttp.ClientSession() as session, session.get(handle.url + "/master/slaves") as resp:
            size = len(await resp.read())
        async with running_driver(handle.url) as (driver, recorder):
            await first_offers(recorder)  # subscribed
            reports = await driver.get_master_json("/master/slaves", read=read)
    finally:
        await handle.close()
    return size, reports, read_in[0], collecting[0]


async def test_a_large_listing_is_parsed_and_read_off_the_event_loop_with_the_collector_paused():
    assert gc.isenabled()
    size, reports, read_in, collecting = await agents_read(2000)
    assert size > 1_000_000  # a listing this large goes to a thread
    assert len(reports) == 2000 and len({report.agent_id for report in reports}) == 2000
    assert read_in != threading.get_ident()
    assert not collecting and gc.isenabled()  # paused for the read, on again after


def test_a_paused_read_leaves_a_collector_paused_elsewhere_paused():
    gc.disable()
    try:
        assert _parse_and_read_uncollected(b'{"slaves": []}', parse_agents) == []
        assert not gc.isenabled()
    finally:
        gc.enable()
    with pytest.raises(ValueError):
        _parse_and_read_uncollected(b"{}", parse_agents)
    assert gc.isenabled()  # back on after a read that failed


async def test_a_small_listing_is_read_on_the_loop_and_a_read_that_fails_says_so():
    size, reports, read_in, collecting = await agents_read(2)
    assert size < 1_000_000 and len(reports) == 2 and read_in == threading.get_ident() and collecting
    handle = await serve_sim(sim_config(), "127.0.0.1", 0)
    try:
        async with running_driver(handle.url) as (driver, recorder):
            await first_offers(recorder)
            with pytest.raises(ValueError, match="no 'slaves' list"):
                await driver.get_master_json("/master/frameworks", read=parse_agents)
    finally:
        await handle.close()


async def test_an_answer_larger_than_the_limit_is_refused(monkeypatch):
    monkeypatch.setattr(driver_module, "MAX_LISTING_BYTES", 10_000)  # 20 agents: about 14 KB; frameworks: about 6 KB
    handle = await serve_sim(sim_config(agents=20), "127.0.0.1", 0)
    try:
        async with running_driver(handle.url) as (driver, recorder):
            await first_offers(recorder)
            with pytest.raises(CallError, match="more than the 10000 bytes allowed"):
                await driver.get_master_json("/master/slaves", read=parse_agents)
            assert len(await driver.get_master_json("/master/frameworks")) >= 1  # small answers still read
    finally:
        await handle.close()


async def test_an_answer_without_a_length_is_read_up_to_the_limit_and_no_further():
    class Content:
        def __init__(self, chunks):
            self.chunks = chunks
            self.read = 0

        async def iter_any(self):
            for chunk in self.chunks:
                self.read += 1
                yield chunk

    class Answer:  # chunked: no Content-Length
        content_length = None

        def __init__(self, chunks):
            self.content = Content(chunks)

    answer = Answer([b"x" * 400] * 10)
    with pytest.raises(CallError, match="more than the 1000 bytes allowed"):
        await _read_at_most(answer, 1000, "GET /master/slaves")
    assert answer.content.read == 3  # stopped at the chunk that went past the limit
    assert await _read_at_most(Answer([b"ab", b"cd"]), 1000, "GET /x") == b"abcd"


async def test_the_operator_apis_get_frameworks_through_the_driver_lists_us_without_tasks():
    from scheduler.mesos.frameworks import ghost_frameworks, listed_by_operator_api

    handle = await serve_sim(sim_config(agents=2), "127.0.0.1", 0)
    try:
        async with running_driver(handle.url) as (driver, recorder):
            await first_offers(recorder)
            answer = await driver.operator_call({"type": "GET_FRAMEWORKS"})
            [ours] = answer["get_frameworks"]["frameworks"]
            assert ours["framework_info"]["id"] == {"value": driver.framework_id}
            assert ours["active"] is True and ours["connected"] is True and ours["recovered"] is False
            assert "tasks" not in ours

            # Read as the engine reads it: under another id, this framework is the ghost.
            def read(answer):
                name = ours["framework_info"]["name"]
                return ghost_frameworks(listed_by_operator_api(answer), "another-id", name, None)

            [ghost] = await driver.operator_call({"type": "GET_FRAMEWORKS"}, read=read)
            assert ghost.startswith(f"{driver.framework_id} (name ") and ", active" in ghost
            with pytest.raises(CallError, match=r"POST /api/v1 call failed: 501"):
                await driver.operator_call({"type": "GET_TASKS"})  # the simulator answers GET_FRAMEWORKS only
    finally:
        await handle.close()
