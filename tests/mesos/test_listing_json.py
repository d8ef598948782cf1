"""The master's large listings parsed a piece at a time (``listing_json``): the same document as
orjson makes, the same refusals, and the interpreter let go while it works."""

from __future__ import annotations

import aiohttp
import orjson
import pytest
from driverkit import running_driver, sim_config
from test_driver import first_offers

from scheduler.mesos.listing_json import loads_yielding, release_yielding
from scheduler.sim.server import serve_sim


def listing(agents: int, tasks: int) -> bytes:
    slaves = [
        {
            "id": f"A-{n}",
            "hostname": f"host-{n}",
            "resources": {"cpus": 16.0, "mem": 65536.0, "ports": "[31000-32000]"},
            "attributes": {"rack": f"r{n % 7}"},
            "active": n % 5 != 0,
        }
        for n in range(agents)
    ]
    task_list = [
        {"id": f"scale-job-{n}", "state": "TASK_RUNNING", "labels": [{"key": "k", "value": "é\\n"}]}
        for n in range(tasks)
    ]
    frameworks = [{"id": "F-1", "name": "scale", "tasks": task_list, "completed_tasks": [], "executors": []}]
    return orjson.dumps(
        {"slaves": slaves, "recovered_slaves": [], "frameworks": frameworks, "n": None, "x": [1, 2.5e-3, -0]}
    )


def test_the_document_is_the_one_orjson_makes():
    body = listing(agents=300, tasks=500)
    assert loads_yielding(body) == orjson.loads(body)
    numbers = b'{"slaves": [[18446744073709551615, 18446744073709551616, -9223372036854775808, -9223372036854775809]]}'
    assert loads_yielding(numbers) == orjson.loads(numbers)
    floats = b'{"x": [1e308, 1.5e-400, -0.0, 12, 1.25]}'
    assert loads_yielding(floats) == orjson.loads(floats)
    for text in (
        b"{}",
        b" { } ",
        b'{"slaves": []}',
        b'{"slaves": [{}], "frameworks": [{"tasks": []}, null, 3]}',
        b"[1, 2]",
        b'"x"',
        b"7",
    ):
        assert loads_yielding(text) == orjson.loads(text), text
    # a valid UTF-16 pair is left to orjson, which pairs it
    assert loads_yielding(b'{"slaves": [{"hostname": "\\ud83d\\ude00"}]}') == {"slaves": [{"hostname": "\U0001f600"}]}


@pytest.mark.parametrize(
    "text",
    [
        b"",
        b"   ",
        b"{",
        b'{"slaves": [',
        b'{"slaves": [{}, ]}',
        b'{"slaves": [{}] "frameworks": []}',
        b'{"slaves": [{}]}}',
        b'{"slaves": [{}]} x',
        b"{slaves: []}",
        b'{"slaves": [NaN]}',
        b'{"a": Infinity}',
        b'{"slaves": [{"cpus": 1e309}]}',
        b'{"slaves": [{"cpus": -1e309}]}',
        b'{"slaves": [{"cpus": 1' + b"0" * 400 + b"}]}",
        b'{"slaves": [{"hostname": "\\ud800"}]}',  # a lone surrogate
        b'{"slaves": ["\xff"]}',  # not UTF-8
        b'{"slaves": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}",  # nested past any parser's depth
        b'{"frameworks": [{"tasks": [' + b"[" * 100_000 + b"]}",
    ],
)
def test_what_orjson_refuses_is_refused_with_its_error(text):
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(text)
    with pytest.raises(orjson.JSONDecodeError):
        loads_yielding(text)


def test_the_interpreter_is_let_go_after_each_hold_of_work():
    now = [0.0]
    pauses: list[float] = []

    def clock() -> float:
        now[0] += 0.0004  # each look at the clock: 0.4 ms of work
        return now[0]

    body = listing(agents=50, tasks=50)
    assert loads_yielding(body, hold_s=0.001, clock=clock, pause=pauses.append) == orjson.loads(body)
    # one look per element or key parsed whole, a pause every third look (1.2 ms >= 1 ms)
    assert len(pauses) >= 30 and set(pauses) == {0.001}
    pauses.clear()
    loads_yielding(b'{"slaves": []}', clock=clock, pause=pauses.append)
    assert pauses == []


async def test_the_simulators_listings_parse_as_with_orjson():
    handle = await serve_sim(sim_config(agents=50), "127.0.0.1", 0)
    try:
        async with running_driver(handle.url) as (_driver, recorder):
            await first_offers(recorder)  # a framework with offers: /master/frameworks lists it
            async with aiohttp.ClientSession() as session:
                for path in ("/master/slaves", "/master/frameworks", "/master/state"):
                    async with session.get(handle.url + path) as resp:
                        body = await resp.read()
                    assert loads_yielding(body) == orjson.loads(body), path
    finally:
        await handle.close()


def test_a_listing_is_freed_an_element_at_a_time_with_pauses_and_what_a_reader_kept_stays():
    body = listing(agents=40, tasks=60)
    document = loads_yielding(body)
    kept = document["slaves"][3]
    now = [0.0]
    pauses: list[float] = []

    def clock() -> float:
        now[0] += 0.0004
        return now[0]

    release_yielding(document, hold_s=0.001, clock=clock, pause=pauses.append)
    assert document["slaves"] == [] and document["frameworks"] == []  # the frameworks' tasks went first
    assert document["n"] is None and document["x"] == [1, 2.5e-3, 0]  # what is not streamed stays
    assert kept == orjson.loads(body)["slaves"][3]
    assert len(pauses) >= 30 and set(pauses) == {0.001}
    release_yielding([1, 2])  # not an object: nothing to do
