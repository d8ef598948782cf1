"""Offers: shape, splitting, filters, never offering the same resources twice, GPUs, suppress."""

from __future__ import annotations

import asyncio

from simkit import framework_info, scalar, task_info


async def _offers(sub, timeout=2.0) -> list[dict]:
    event = await sub.expect("OFFERS", timeout)
    return event["offers"]["offers"]


async def _collect_offers(sub, seconds: float) -> list[dict]:
    return [o for e in await sub.quiet(seconds, types=("OFFERS",)) for o in e["offers"]["offers"]]


async def test_offer_shape_and_nesting(sim):
    handle, client = sim
    sub = await client.subscribe()
    event = await sub.expect("OFFERS")
    assert set(event) == {"type", "offers"}
    assert set(event["offers"]) == {"offers"}
    offers = event["offers"]["offers"]
    assert len(offers) == 3  # one per agent, all in one cycle
    master_id = handle.state.master_id
    for offer in offers:
        assert offer["id"]["value"].startswith(master_id + "-O")
        assert offer["framework_id"] == {"value": sub.framework_id}
        assert offer["agent_id"]["value"].startswith(master_id + "-S")
        assert offer["hostname"].startswith("agent-")
        assert offer["url"]["scheme"] == "http"
        assert offer["url"]["address"]["port"] == 5051
        assert offer["url"]["address"]["hostname"] == offer["hostname"]
        assert offer["url"]["path"] == "/slave(1)"
        assert "allocation_info" not in offer
        by_name = {r["name"]: r for r in offer["resources"]}
        assert by_name["cpus"] == {"name": "cpus", "type": "SCALAR", "scalar": {"value": 4.0}, "role": "*"}
        assert by_name["mem"]["scalar"]["value"] == 8192.0
        assert by_name["disk"]["scalar"]["value"] == 65536.0
        assert by_name["ports"] == {
            "name": "ports",
            "type": "RANGES",
            "role": "*",
            "ranges": {"range": [{"begin": 31000, "end": 32000}]},
        }
        assert "gpus" not in by_name
    assert len({o["agent_id"]["value"] for o in offers}) == 3


async def test_multi_role_offers_carry_allocation_info(sim):
    _, client = sim
    sub = await client.subscribe(framework_info(roles=["analytics"], capabilities=[{"type": "MULTI_ROLE"}]))
    offer = (await _offers(sub))[0]
    assert offer["allocation_info"] == {"role": "analytics"}
    assert all(r["allocation_info"] == {"role": "analytics"} and r["role"] == "*" for r in offer["resources"])


async def test_invalid_framework_info_is_an_error_event(sim):
    _, client = sim
    sub = await client.subscribe(framework_info(roles=["a"]), expect_subscribed=False)
    event = await sub.next()
    assert event == {
        "type": "ERROR",
        "error": {"message": "'FrameworkInfo.roles' must not be set when the framework is not MULTI_ROLE capable"},
    }
    await sub.wait_ended()


async def test_offers_split_by_max_offers_per_event(make_sim):
    _, client = await make_sim(agents=5, max_offers_per_event=2)
    sub = await client.subscribe()
    sizes = [len(e["offers"]["offers"]) for e in await sub.quiet(0.4, types=("OFFERS",))]
    assert sizes == [2, 2, 1]


async def test_outstanding_offers_are_never_offered_again(make_sim):
    handle, client = await make_sim(agents=4)
    sub = await client.subscribe()
    offers = await _collect_offers(sub, 0.5)  # ~10 allocation cycles, no answer given
    agents = [o["agent_id"]["value"] for o in offers]
    assert sorted(agents) == sorted(handle.state.agents)  # each agent exactly once

    # Launch a 1-cpu task on one agent, leftovers declined with no filter: the
    # leftover comes back, never overlapping the task's resources.
    offer = offers[0]
    await client.accept(
        sub,
        [offer["id"]["value"]],
        [task_info(offer, "t1", cpus=1, mem=1000, ports=[(31000, 31000)])],
        refuse_seconds=0,
    )
    again = [o for o in await _collect_offers(sub, 0.4) if o["agent_id"] == offer["agent_id"]]
    assert len(again) == 1
    leftover = again[0]
    assert scalar(leftover, "cpus") == 3.0
    assert scalar(leftover, "mem") == 8192.0 - 1000
    ports = [r for r in leftover["resources"] if r["name"] == "ports"][0]["ranges"]["range"]
    assert ports == [{"begin": 31001, "end": 32000}]


async def test_decline_filter_holds_agent_back_until_it_expires(sim):
    _, client = sim
    sub = await client.subscribe()
    offers = await _offers(sub)
    declined = offers[0]
    await client.decline(sub, [declined["id"]["value"]], refuse_seconds=0.6)
    loop = asyncio.get_running_loop()
    start = loop.time()
    event = await sub.expect(
        "OFFERS", 3.0, lambda e: any(o["agent_id"] == declined["agent_id"] for o in e["offers"]["offers"])
    )
    elapsed = loop.time() - start
    assert 0.5 <= elapsed < 1.5, elapsed
    reoffer = [o for o in event["offers"]["offers"] if o["agent_id"] == declined["agent_id"]][0]
    assert reoffer["id"] != declined["id"]
    assert reoffer["resources"] == declined["resources"]


async def test_decline_default_filter_is_five_seconds_and_zero_means_none(sim):
    _, client = sim
    sub = await client.subscribe()
    offers = await _offers(sub)
    await client.decline(sub, [offers[0]["id"]["value"]])  # no filters: 5 s
    await client.decline(sub, [offers[1]["id"]["value"]], refuse_seconds=0)
    seen = {o["agent_id"]["value"] for o in await _collect_offers(sub, 0.6)}
    assert offers[1]["agent_id"]["value"] in seen
    assert offers[0]["agent_id"]["value"] not in seen


async def test_decline_unknown_or_foreign_offer_is_ignored(sim):
    _, client = sim
    first = await client.subscribe()
    offers = await _offers(first)
    second = await client.subscribe(framework_info(name="other"))
    status, _ = await client.call(
        second, {"type": "DECLINE", "decline": {"offer_ids": [offers[0]["id"], {"value": "no-such-offer"}]}}
    )
    assert status == 202
    # The first framework's offer is still valid: launching on it works.
    await client.accept(first, [offers[0]["id"]["value"]], [task_info(offers[0], "t1")])
    status = (await first.expect("UPDATE"))["update"]["status"]
    assert status["state"] == "TASK_STARTING"


async def test_revive_clears_filters(sim):
    _, client = sim
    sub = await client.subscribe()
    offers = await _offers(sub)
    await client.decline(sub, [o["id"]["value"] for o in offers], refuse_seconds=3600)
    assert await _collect_offers(sub, 0.3) == []
    status, _ = await client.call(sub, {"type": "REVIVE"})
    assert status == 202
    assert len(await _offers(sub, 1.0)) == 3


async def test_suppress_stops_offers_and_revive_resumes(sim):
    _, client = sim
    sub = await client.subscribe()
    offers = await _offers(sub)
    status, _ = await client.call(sub, {"type": "SUPPRESS"})
    assert status == 202
    await client.decline(sub, [o["id"]["value"] for o in offers], refuse_seconds=0)
    assert await _collect_offers(sub, 0.4) == []
    await client.call(sub, {"type": "REVIVE", "revive": {"roles": ["*"]}})
    assert len(await _offers(sub, 1.0)) == 3


async def test_subscribe_with_suppressed_roles(sim):
    _, client = sim
    sub = await client.subscribe(suppressed_roles=["*"])
    assert await _collect_offers(sub, 0.3) == []
    await client.call(sub, {"type": "REVIVE"})
    assert len(await _offers(sub, 1.0)) == 3


async def test_gpu_agents_only_offered_to_gpu_frameworks(make_sim):
    _, client = await make_sim(agents=2, agent_gpus=1.0)
    plain = await client.subscribe()
    assert await _collect_offers(plain, 0.3) == []
    gpu = await client.subscribe(framework_info(name="gpu", capabilities=[{"type": "GPU_RESOURCES"}]))
    offers = await _offers(gpu)
    assert len(offers) == 2
    assert all(scalar(o, "gpus") == 1.0 for o in offers)


async def test_two_frameworks_share_agents_without_overlap(make_sim):
    handle, client = await make_sim(agents=6)
    a = await client.subscribe(framework_info(name="a"))
    b = await client.subscribe(framework_info(name="b"))
    got_a = await _collect_offers(a, 0.4)
    got_b = await _collect_offers(b, 0.1)
    agents_a = {o["agent_id"]["value"] for o in got_a}
    agents_b = {o["agent_id"]["value"] for o in got_b}
    assert not agents_a & agents_b
    assert agents_a | agents_b == set(handle.state.agents)


async def test_usage_of_other_frameworks_rescinds_overcommitting_offer(sim):
    handle, client = sim
    sub = await client.subscribe()
    offers = await _offers(sub)
    target = offers[0]
    agent_id = target["agent_id"]["value"]
    status, body = await client.control("PUT", f"/sim/agents/{agent_id}/usage", {"cpus": 3.5, "mem": 4096})
    assert status == 200
    assert body["rescinded_offers"] == [target["id"]["value"]]
    event = await sub.expect("RESCIND")
    assert event == {"type": "RESCIND", "rescind": {"offer_id": target["id"]}}
    reoffer = await sub.expect(
        "OFFERS", 3.0, lambda e: any(o["agent_id"]["value"] == agent_id for o in e["offers"]["offers"])
    )
    offer = [o for o in reoffer["offers"]["offers"] if o["agent_id"]["value"] == agent_id][0]
    assert scalar(offer, "cpus") == 0.5
    assert scalar(offer, "mem") == 4096.0
    status, slaves = await client.get_json("/master/slaves")
    agent = [s for s in slaves["slaves"] if s["id"] == agent_id][0]
    assert agent["used_resources"]["cpus"] == 3.5
    assert agent["offered_resources"]["cpus"] == 0.5

    # Usage that still fits does not rescind.
    other = offers[1]["agent_id"]["value"]
    status, body = await client.control("PUT", f"/sim/agents/{other}/usage", {"cpus": 0})
    assert (status, body["rescinded_offers"]) == (200, [])


async def test_usage_rejects_bad_input(sim):
    handle, client = sim
    agent_id = next(iter(handle.state.agents))
    status, body = await client.control("PUT", f"/sim/agents/{agent_id}/usage", {"cpus": -1})
    assert status == 400 and "cpus" in body["detail"]
    status, body = await client.control("PUT", f"/sim/agents/{agent_id}/usage", {"bananas": 1})
    assert status == 400 and "bananas" in body["detail"]
    status, body = await client.control("PUT", "/sim/agents/nope/usage", {"cpus": 1})
    assert status == 404 and "nope" in body["detail"]
