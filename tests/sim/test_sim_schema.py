"""schema.py (stout's JSON->protobuf rules, validation.cpp) and resources.py, without a server."""

from __future__ import annotations

import base64
import math
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.sim import schema
from scheduler.sim.resources import Resources, format_ranges, ranges_contain, subtract_ranges

SUBSCRIBE = {"type": "SUBSCRIBE", "subscribe": {"framework_info": {"user": "u", "name": "n"}}}


def test_unknown_keys_dropped_and_null_is_unset():
    call = schema.parse_call(
        {
            **SUBSCRIBE,
            "bogus": 1,
            "framework_id": None,
            "subscribe": {"framework_info": {"user": "u", "name": "n", "x": {}}, "force": True},
        }
    )
    assert call == SUBSCRIBE


def test_strings_for_numbers_and_bools():
    call = schema.parse_call(
        {
            "type": "SUBSCRIBE",
            "subscribe": {
                "framework_info": {"user": "u", "name": "n", "failover_timeout": "12.5", "checkpoint": "true"}
            },
        }
    )
    info = call["subscribe"]["framework_info"]
    assert info["failover_timeout"] == 12.5 and info["checkpoint"] is True
    call = schema.parse_call({"type": "DECLINE", "decline": {"filters": {"refuse_seconds": "Infinity"}}})
    assert math.isinf(call["decline"]["filters"]["refuse_seconds"])


def test_unknown_enum_dropped_when_optional_error_when_required():
    assert "type" not in schema.parse_call({"type": "FLY"})
    caps = schema.parse_call(
        {
            "type": "SUBSCRIBE",
            "subscribe": {
                "framework_info": {
                    "user": "u",
                    "name": "n",
                    "capabilities": [{"type": "TELEPATHY"}, {"type": "GPU_RESOURCES"}],
                }
            },
        }
    )
    assert caps["subscribe"]["framework_info"]["capabilities"] == [{}, {"type": "GPU_RESOURCES"}]
    with pytest.raises(schema.ConversionError, match="Failed to find enum for 'BLOB'"):
        schema.parse_message({"name": "cpus", "type": "BLOB"}, "Resource")


def test_single_value_for_repeated_field_is_one_element():
    call = schema.parse_call({"type": "REVIVE", "revive": {"roles": "a"}})
    assert call["revive"]["roles"] == ["a"]


def test_bytes_are_base64():
    raw = uuid.uuid4().bytes
    call = schema.parse_call(
        {
            "type": "ACKNOWLEDGE",
            "framework_id": {"value": "f"},
            "acknowledge": {
                "agent_id": {"value": "a"},
                "task_id": {"value": "t"},
                "uuid": base64.b64encode(raw).decode(),
            },
        }
    )
    assert call["acknowledge"]["uuid"] == raw
    assert schema.validate_call(call) is None


def test_missing_required_fields_paths():
    with pytest.raises(schema.ConversionError) as err:
        schema.parse_call({"type": "RECONCILE", "reconcile": {"tasks": [{}, {"task_id": {}}]}})
    assert str(err.value) == "Missing required fields: reconcile.tasks[0].task_id, reconcile.tasks[1].task_id.value"


def test_validation_messages():
    assert schema.validate_call({}) == "Expecting 'type' to be present"
    assert schema.validate_call({"type": "REVIVE"}) == "Expecting 'framework_id' to be present"
    assert schema.validate_call({"type": "REVIVE", "framework_id": {"value": "f"}}) is None
    assert schema.validate_call({"type": "TEARDOWN", "framework_id": {"value": "f"}}) is None
    bad_version = bytes(6) + b"\x00" + bytes(9)
    assert (
        schema.validate_call(
            {"type": "ACKNOWLEDGE", "framework_id": {"value": "f"}, "acknowledge": {"uuid": bad_version}}
        )
        == "Not a valid UUID"
    )


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["SUBSCRIBE", "ACCEPT", "LAUNCH", "SCALAR", "Infinity", "AAAA"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "type",
                    "framework_id",
                    "value",
                    "subscribe",
                    "framework_info",
                    "user",
                    "name",
                    "accept",
                    "offer_ids",
                    "operations",
                    "launch",
                    "task_infos",
                    "resources",
                    "scalar",
                    "ranges",
                    "range",
                    "begin",
                    "end",
                    "uuid",
                    "acknowledge",
                    "tasks",
                    "task_id",
                    "agent_id",
                    "filters",
                    "refuse_seconds",
                    "labels",
                    "key",
                    "x",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_any_json_either_parses_or_is_a_conversion_error(value):
    try:
        call = schema.parse_call(value)
    except schema.ConversionError:
        return
    result = schema.validate_call(call)
    assert result is None or isinstance(result, str)


RANGES = st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)).map(lambda r: (min(r), max(r))), max_size=5)


def _ports(ranges):
    return {p for b, e in ranges for p in range(b, e + 1)}


@given(RANGES, RANGES)
def test_port_range_arithmetic_matches_sets(a, b):
    ra, rb = Resources(ports=a).ports, Resources(ports=b).ports
    assert _ports(subtract_ranges(ra, rb)) == _ports(a) - _ports(b)
    assert ranges_contain(ra, rb) == (_ports(b) <= _ports(a))
    assert _ports((Resources(ports=a) + Resources(ports=b)).ports) == _ports(a) | _ports(b)


def test_resources_vector():
    total = Resources(cpus=4, mem=8192, disk=100, ports=[(31000, 32000)])
    used = Resources(cpus=0.1, mem=100, ports=[(31000, 31000), (31005, 31010)])
    left = total - used
    assert left.cpus == 3.9 and left.mem == 8092
    assert format_ranges(left.ports) == "[31001-31004, 31011-32000]"
    assert (left + used) == total
    assert not left.contains(total) and total.contains(left)
    assert (used - total).is_empty()  # never negative
    assert Resources(cpus=0.1) + Resources(cpus=0.2) == Resources(cpus=0.3)
    assert total.to_model() == {"cpus": 4.0, "disk": 100.0, "gpus": 0.0, "mem": 8192.0, "ports": "[31000-32000]"}
    assert Resources.from_model({"cpus": 2, "ports": "[1-2]"}) == Resources(cpus=2, ports=[(1, 2)])
    assert not Resources(cpus=0.005, mem=31).allocatable()
