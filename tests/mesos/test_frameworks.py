"""ghost_frameworks: another framework with our name or principal on the master (Scale issue 1900)."""

from __future__ import annotations

import pytest

from scheduler.mesos.frameworks import MAX_GHOSTS, ghost_frameworks, listed_by_operator_api
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


def operator_entry(framework_id, name="scale", **extra):
    info = {"id": {"value": framework_id}, "user": "u", "name": name, "hostname": "h1"}
    return {"framework_info": info, "active": True, "connected": True, "recovered": False, **extra}


def test_the_operator_apis_answer_reads_as_the_listing_does_with_what_a_ghost_holds():
    answer = {
        "type": "GET_FRAMEWORKS",
        "get_frameworks": {
            "frameworks": [operator_entry("ours"), operator_entry("f-2", active=False), operator_entry("f-3", "x")],
            "completed_frameworks": [operator_entry("f-0")],
        },
    }
    assert ghost_frameworks(listed_by_operator_api(answer), "ours", "scale", None) == [
        "f-2 (name 'scale', inactive, hostname h1, holding nothing)"
    ]
    recovered = {"get_frameworks": {"frameworks": [operator_entry("f-7", active=False, recovered=True)]}}
    assert ghost_frameworks(listed_by_operator_api(recovered), None, "scale", None) == [
        "f-7 (name 'scale', recovered, hostname h1, holding nothing)"
    ]
    # No frameworks at all: the repeated field is left out of the answer.
    assert listed_by_operator_api({"type": "GET_FRAMEWORKS", "get_frameworks": {}}) == {"frameworks": []}


def scalar(name, value, role="*"):
    return {"name": name, "type": "SCALAR", "scalar": {"value": value}, "allocation_info": {"role": role}}


def test_a_ghost_holding_resources_says_how_much():
    """Mesos lists the framework's allocated resources merged by name and role: summed by name."""
    held = [scalar("cpus", 1.5), scalar("mem", 2048), scalar("cpus", 2.5, "other"), scalar("disk", 100)]
    held += [scalar("gpus", 1), scalar("ports", 3)]
    answer = {"get_frameworks": {"frameworks": [operator_entry("f-2", allocated_resources=held)]}}
    assert ghost_frameworks(listed_by_operator_api(answer), "ours", "scale", None) == [
        "f-2 (name 'scale', active, hostname h1, holding 4 cpus and 2048 MB of memory and 1 gpus)"
    ]


def test_hostile_allocated_resources_are_skipped():
    hostile = [
        1,
        None,
        "cpus",
        {"name": "cpus"},
        {"name": "cpus", "scalar": "9"},
        scalar("cpus", "9"),
        scalar("cpus", True),
    ]
    hostile += [scalar("cpus", float("nan")), scalar("cpus", float("inf")), scalar("cpus", -4), scalar(["cpus"], 2)]
    hostile += [scalar("mem", 1)] * 2_000  # past the first thousand entries: not read
    for resources in (hostile, "x", {"cpus": 3}, None):
        answer = {"get_frameworks": {"frameworks": [operator_entry("f-2", allocated_resources=resources)]}}
        [listed] = listed_by_operator_api(answer)["frameworks"]
        expected = {"cpus": 0.0, "mem": 989.0 if resources is hostile else 0.0, "gpus": 0.0}
        assert listed["allocated"] == expected


@pytest.mark.parametrize("answer", [None, [], "x", {"type": "GET_FRAMEWORKS"}, {"get_frameworks": []}])
def test_an_answer_that_is_not_get_frameworks_is_refused(answer):
    with pytest.raises(ValueError, match="not a GET_FRAMEWORKS answer"):
        listed_by_operator_api(answer)


def test_hostile_entries_of_the_operator_apis_answer_are_skipped_or_cleaned():
    with pytest.raises(ValueError, match="is not a list"):
        listed_by_operator_api({"get_frameworks": {"frameworks": "x"}})
    entries = [1, None, {}, {"framework_info": "x"}, {"framework_info": {"id": "f-1", "name": "scale"}}]
    entries.append(operator_entry("f-\x1b[31m" + "y" * 500))
    entries.append({"framework_info": {"id": {"value": 7}, "name": "scale"}})  # not a string id
    listed = listed_by_operator_api({"get_frameworks": {"frameworks": entries}})
    [ghost] = ghost_frameworks(listed, "ours", "scale", None)
    assert "\x1b" not in ghost and len(ghost) < 250
