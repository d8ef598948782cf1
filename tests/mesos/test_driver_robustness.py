"""The driver against hand-made masters that misbehave: garbage records, 503s, bad framing."""

from __future__ import annotations

import asyncio
import logging
import time

import orjson
from aiohttp import web
from driverkit import Recorder, running_driver

from scheduler.backoff import backoff_delay
from scheduler.mesos.driver import OFFERS_PER_SLICE, resolve_location
from scheduler.mesos.events import Heartbeat, OffersReceived, Subscribed
from scheduler.mesos.recordio import encode

SUBSCRIBED = b'{"type":"SUBSCRIBED","subscribed":{"framework_id":{"value":"F-bad"},"heartbeat_interval_seconds":0.2}}'
OFFER = (
    b'{"type":"OFFERS","offers":{"offers":[{"id":{"value":"O1"},"agent_id":{"value":"S1"},"hostname":"h",'
    b'"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":1}}]}]}}'
)


async def serve(app: web.Application):
    runner = web.AppRunner(app, shutdown_timeout=0.2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    return runner, f"http://127.0.0.1:{port}"


def stream_master(records: list[bytes], *, fail_first: int = 0, status: int = 503):
    state = {"subscribes": 0, "calls": []}

    async def handler(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if body["type"] != "SUBSCRIBE":
            state["calls"].append(body["type"])
            return web.Response(status=202)
        state["subscribes"] += 1
        if state["subscribes"] <= fail_first:
            return web.Response(status=status, text="Master has not finished recovery")
        response = web.StreamResponse(headers={"Mesos-Stream-Id": "stream-1", "Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for record in records:
            await response.write(record)
        await asyncio.sleep(30)
        return response

    app = web.Application()
    app.router.add_post("/api/v1/scheduler", handler)
    return app, state


async def test_malformed_records_are_logged_and_skipped(caplog):
    records = [
        encode(SUBSCRIBED),
        encode(b"this is not json"),
        encode(b'{"type":"NO_SUCH_EVENT","no_such_event":{}}'),
        encode(b'{"type":"OFFERS","offers":[]}'),  # the documentation's wrong nesting
        encode(b'{"type":"FAILURE","failure":{"agent_id":{"value":"S1"},"status":"1e999"}}'),  # not finite
        encode(OFFER),
        encode(b'{"type":"HEARTBEAT"}'),
    ]
    app, _state = stream_master(records)
    runner, url = await serve(app)
    try:
        with caplog.at_level(logging.WARNING, logger="scheduler.mesos.driver"):
            async with running_driver(url) as (driver, recorder):
                await recorder.wait_for(lambda e: isinstance(e, Heartbeat))
                kinds = [type(e) for e in recorder.events]
                assert kinds == [Subscribed, OffersReceived, Heartbeat]
                assert driver.subscriptions == 1  # the stream was never dropped
        skipped = [r for r in caplog.records if "malformed event" in r.getMessage()]
        assert len(skipped) == 4
    finally:
        await runner.cleanup()


async def test_503_on_subscribe_is_retried_with_backoff():
    app, state = stream_master([encode(SUBSCRIBED)], fail_first=3)
    runner, url = await serve(app)
    try:
        async with running_driver(url) as (driver, recorder):
            await recorder.wait_for(lambda e: isinstance(e, Subscribed), timeout=10)
            assert state["subscribes"] == 4
    finally:
        await runner.cleanup()


async def test_bad_framing_drops_the_stream_and_resubscribes():
    app, state = stream_master([encode(SUBSCRIBED), b"garbage-without-length\n"])
    runner, url = await serve(app)
    try:
        async with running_driver(url) as (driver, recorder):
            await recorder.wait_for(lambda e: isinstance(e, Subscribed))
            await recorder.wait_for(lambda e: isinstance(e, Subscribed), timeout=5)
            assert state["subscribes"] >= 2
    finally:
        await runner.cleanup()


def test_backoff_grows_jitters_and_is_capped():
    import random

    rng = random.Random(7)
    delays = [backoff_delay(n, 0.5, 15.0, rng) for n in range(12)]
    assert 0.25 <= delays[0] <= 0.5
    assert all(d <= 15.0 for d in delays)
    assert delays[-1] >= 7.5  # at the cap, jitter keeps it within [cap/2, cap]
    assert len({round(d, 6) for d in delays}) == len(delays)  # jittered, not a fixed ladder


def test_protocol_relative_location_is_resolved():
    assert resolve_location("http://a:5050", "//b:5051/api/v1/scheduler") == "http://b:5051"
    assert resolve_location("https://a:5050", "//b:5051/api/v1/scheduler") == "https://b:5051"
    assert resolve_location("http://a:5050/mesos", "//b:5051/mesos/api/v1/scheduler") == "http://b:5051/mesos"
    assert resolve_location("http://a:5050", "http://c:1/api/v1/scheduler") == "http://c:1"


async def test_a_master_that_never_sends_headers_is_given_up_and_retried():
    state = {"subscribes": 0}

    async def handler(request: web.Request) -> web.StreamResponse:
        state["subscribes"] += 1
        await asyncio.sleep(30)  # accepts the connection, never answers
        return web.Response()

    app = web.Application()
    app.router.add_post("/api/v1/scheduler", handler)
    runner, url = await serve(app)
    try:
        async with running_driver(url, call_timeout_s=0.3) as (driver, _recorder):
            await asyncio.sleep(2.0)
            assert state["subscribes"] >= 3  # not stuck on the first one
            assert not driver.subscribed
    finally:
        await runner.cleanup()


async def test_a_recovering_master_is_asked_again_soon():
    """503 means the master is up but not ready: the backoff stays short (uncapped, five failures
    in a row would wait at least 15.5 s; capped at 2 s, at most 9 s)."""
    import random

    from driverkit import Recorder, spec

    from scheduler.mesos.driver import DriverOptions, MemoryFrameworkIdStore, MesosDriver

    app, state = stream_master([encode(SUBSCRIBED)], fail_first=5)
    runner, url = await serve(app)
    recorder = Recorder()
    options = DriverOptions(master_url=url, backoff_base_s=1.0, backoff_max_s=15.0)
    driver = MesosDriver(spec(), options, recorder, MemoryFrameworkIdStore(), rng=random.Random(3))
    task = asyncio.create_task(driver.run())
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        await recorder.wait_for(lambda e: isinstance(e, Subscribed), timeout=20)
        assert state["subscribes"] == 6
        assert loop.time() - started < 10.0
    finally:
        await driver.stop()
        await asyncio.wait_for(task, 5)
        await runner.cleanup()


class SlowRecorder(Recorder):
    """Takes 1 ms of the loop per event; on the first heartbeat, asks the loop to note how many
    events had been handed over by the time it got a turn."""

    def __init__(self) -> None:
        super().__init__()
        self.seen_when_loop_ran: int | None = None

    def __call__(self, event) -> None:
        super().__call__(event)
        if isinstance(event, Heartbeat) and len(self.of_type(Heartbeat)) == 1:
            asyncio.get_running_loop().call_soon(self._loop_ran)
        time.sleep(0.001)  # a handler's cost, on the loop

    def _loop_ran(self) -> None:
        self.seen_when_loop_ran = len(self.events)


async def test_a_large_read_is_handed_over_in_turns_with_the_loop_running_in_between():
    heartbeats = 300  # 300 ms of handling, in one read of the stream
    app, _state = stream_master(
        [encode(SUBSCRIBED) + b"".join(encode(b'{"type":"HEARTBEAT"}') for _ in range(heartbeats))]
    )
    runner, url = await serve(app)
    try:
        recorder = SlowRecorder()
        async with running_driver(url, recorder=recorder, missed_heartbeats=100):
            await recorder.wait_for(
                lambda e: isinstance(e, Heartbeat) and len(recorder.of_type(Heartbeat)) == heartbeats
            )
        kinds = [type(e) for e in recorder.events[: heartbeats + 1]]  # (a Disconnected follows the stop)
        assert kinds == [Subscribed] + [Heartbeat] * heartbeats  # in order, none lost
        # Handed over in one piece, the loop would get its turn only after all 301 events.
        assert recorder.seen_when_loop_ran is not None and recorder.seen_when_loop_ran < 100
    finally:
        await runner.cleanup()


def _offer(n: int) -> dict:
    return {
        "id": {"value": f"O{n}"},
        "agent_id": {"value": f"S{n}"},
        "hostname": f"h{n}",
        "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}}],
    }


async def test_a_large_offers_event_is_handed_over_in_slices_in_order_with_nothing_lost():
    offers = [_offer(n) for n in range(250)]
    offers[120] = {"id": {"value": "O120"}, "hostname": "no agent id"}  # unusable: declined by id
    big = orjson.dumps({"type": "OFFERS", "offers": {"offers": offers}})
    app, _state = stream_master([encode(SUBSCRIBED), encode(big), encode(b'{"type":"HEARTBEAT"}')])
    runner, url = await serve(app)
    try:
        async with running_driver(url) as (_driver, recorder):
            await recorder.wait_for(lambda e: isinstance(e, Heartbeat))
            kinds = [type(e) for e in recorder.events]
            assert kinds == [Subscribed, OffersReceived, OffersReceived, OffersReceived, Heartbeat]
            slices = recorder.of_type(OffersReceived)
            assert [len(s.offers) + len(s.unusable_offer_ids) for s in slices] == [
                OFFERS_PER_SLICE,
                OFFERS_PER_SLICE,
                50,
            ]
            assert [o.id for s in slices for o in s.offers] == [f"O{n}" for n in range(250) if n != 120]
            assert slices[1].unusable_offer_ids == ("O120",)
    finally:
        await runner.cleanup()
