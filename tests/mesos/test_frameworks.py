"""ghost_frameworks: another framework with our name or principal on the master (Scale issue 1900)."""

from __future__ import annotations

import pytest

from scheduler.mesos.frameworks import MAX_GHOSTS, ghost_frameworks
from scheduler.sim import SimConfig, serve_sim


def fw(framework_id, name="scale", principal=None, active=True, **extra):
    document = {"id": framework_id, "name": name, "active": active, "hostname": "h1", "tasks": [], **extra}
    if principal is not None:
        document["principal"] = principal
    return document


def test_others_with_our_name_active_or_inactive_are_ghosts_we_and_completed_ones_are_not():
    listing = {
        "frameworks": [
            fw("ours"),
            fw("f-2", active=False, tasks=[{"id": "t1"}, {"id": "t2"}]),
            fw("f-1"),
            fw("f-3", name="marathon"),
        ],
        "completed_frameworks": [fw("f-0")],
        "unregistered_frameworks": ["f-9"],
    }
    ghosts = ghost_frameworks(listing, "ours", "scale", None)
    assert ghosts == [
        "f-1 (name 'scale', active, hostname h1, 0 tasks)",
        "f-2 (name 'scale', inactive, hostname h1, 2 tasks)",
    ]


def test_same_principal_counts_only_when_we_have_one():
    listing = {"frameworks": [fw("f-1", name="other", principal="scale-svc"), fw("f-2", name="x", principal="")]}
    assert ghost_frameworks(listing, "ours", "scale", "scale-svc") == [
        "f-1 (principal 'scale-svc', active, hostname h1, 0 tasks)"
    ]
    assert ghost_frameworks(listing, "ours", "scale", None) == []
    assert ghost_frameworks(listing, "ours", "scale", "") == []


def test_a_framework_recovered_after_a_master_failover_counts():
    listing = {"frameworks": [{"id": "f-7", "name": "scale", "active": False, "recovered": True}]}
    assert ghost_frameworks(listing, None, "scale", None) == ["f-7 (name 'scale', recovered)"]


@pytest.mark.parametrize(
    "listing",
    [None, [], "frameworks", {"frameworks": "x"}, {"frameworks": [1, None, [], {"id": 5, "name": "scale"}]}],
)
def test_hostile_shapes_give_nothing(listing):
    assert ghost_frameworks(listing, "ours", "scale", "p") == []


def test_text_is_cleaned_and_the_list_bounded():
    listing = {"frameworks": [fw(f"f-{i:03d}\n" + "x" * 500) for i in range(MAX_GHOSTS + 10)]}
    ghosts = ghost_frameworks(listing, "ours", "scale", None)
    assert len(ghosts) == MAX_GHOSTS
    assert all("\n" not in line and len(line) < 250 for line in ghosts)


async def test_the_simulators_master_state_has_what_it_needs():
    import aiohttp

    async with await serve_sim(SimConfig(agents=1), "127.0.0.1", 0) as sim:
        info = {"user": "u", "name": "scale", "principal": "scale-svc", "failover_timeout": 60}
        body = {"type": "SUBSCRIBE", "subscribe": {"framework_info": info}}
        async with aiohttp.ClientSession() as http:
            headers = {"Content-Type": "application/json", "Accept": "application/json"}
            async with http.post(sim.url + "/api/v1/scheduler", json=body, headers=headers) as stream:
                assert stream.status == 200
                await stream.content.readline()  # SUBSCRIBED arrived: the framework is registered
                async with http.get(sim.url + "/master/state") as resp:
                    state = await resp.json()
        [ghost] = ghost_frameworks(state, "not-this-one", "other-name", "scale-svc")
        assert "principal 'scale-svc'" in ghost and "active" in ghost
