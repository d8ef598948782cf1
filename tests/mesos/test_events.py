"""Parsing stream records into typed events; malformed ones raise MalformedEvent with a reason."""

import pytest

from scheduler.mesos.events import (
    Failure,
    FrameworkMessage,
    Heartbeat,
    Ignored,
    MalformedEvent,
    MasterError,
    OfferRescinded,
    OffersReceived,
    Subscribed,
    TaskState,
    TaskUpdate,
    parse_event,
    split_offers,
)

OFFER = {
    "id": {"value": "M-O1"},
    "framework_id": {"value": "F"},
    "agent_id": {"value": "M-S1"},
    "hostname": "agent-1",
    "resources": [
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 4.0}, "role": "*"},
        {"name": "mem", "type": "SCALAR", "scalar": {"value": 4096.0}, "role": "*"},
        {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 31000, "end": 32000}]}, "role": "*"},
        {
            "name": "disk",
            "type": "SCALAR",
            "scalar": {"value": 100.0},
            "reservations": [{"type": "STATIC", "role": "scale"}],
        },
    ],
    "attributes": [{"name": "rack", "type": "TEXT", "text": {"value": "r1"}}],
    "allocation_info": {"role": "*"},
}


def test_subscribed():
    event = parse_event(
        {"type": "SUBSCRIBED", "subscribed": {"framework_id": {"value": "F-1"}, "heartbeat_interval_seconds": 15.0}}
    )
    assert event == Subscribed("F-1", 15.0)


def test_offers_are_nested_and_typed():
    event = parse_event({"type": "OFFERS", "offers": {"offers": [OFFER]}})
    assert isinstance(event, OffersReceived)
    (offer,) = event.offers
    assert (offer.id, offer.agent_id, offer.hostname, offer.framework_id) == ("M-O1", "M-S1", "agent-1", "F")
    assert offer.scalar("cpus") == 4.0 and offer.scalar("mem") == 4096.0
    assert offer.resources[2].ranges == ((31000, 32000),)
    assert offer.resources[3].role == "scale"  # post-refinement reservations
    assert offer.attributes == {"rack": "r1"}
    assert offer.allocation_role == "*"


def test_an_unreadable_offer_with_an_id_is_kept_for_declining():
    bad = {
        "id": {"value": "M-O2"},
        "agent_id": {"value": "M-S2"},
        "hostname": "h",
        "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": "lots"}}],
    }
    event = parse_event({"type": "OFFERS", "offers": {"offers": [OFFER, bad]}})
    assert [o.id for o in event.offers] == ["M-O1"]
    assert event.unusable_offer_ids == ("M-O2",)


def test_update_with_uuid_and_exit_code():
    event = parse_event(
        {
            "type": "UPDATE",
            "update": {
                "status": {
                    "task_id": {"value": "t1"},
                    "state": "TASK_FAILED",
                    "agent_id": {"value": "S1"},
                    "source": "SOURCE_EXECUTOR",
                    "reason": "REASON_COMMAND_EXECUTOR_FAILED",
                    "message": "Command exited with status 3",
                    "uuid": "AAECAwQFBgcICQoLDA0ODw==",
                    "timestamp": 1700000000.5,
                }
            },
        }
    )
    assert isinstance(event, TaskUpdate)
    status = event.status
    assert status.state is TaskState.FAILED and status.state.is_terminal
    assert status.uuid == "AAECAwQFBgcICQoLDA0ODw=="
    assert status.exit_code == 3
    assert status.timestamp == 1700000000.5


def test_other_events():
    assert parse_event({"type": "HEARTBEAT"}) == Heartbeat()
    assert parse_event({"type": "RESCIND", "rescind": {"offer_id": {"value": "O1"}}}) == OfferRescinded("O1")
    assert parse_event({"type": "ERROR", "error": {"message": "Framework has been removed"}}).framework_removed
    failure = parse_event({"type": "FAILURE", "failure": {"agent_id": {"value": "S1"}}})
    assert failure == Failure("S1") and failure.agent_removed
    message = parse_event(
        {"type": "MESSAGE", "message": {"agent_id": {"value": "S"}, "executor_id": {"value": "E"}, "data": "aGk="}}
    )
    assert message == FrameworkMessage("S", "E", b"hi")
    assert parse_event({"type": "INVERSE_OFFERS", "inverse_offers": {"inverse_offers": []}}) == Ignored(
        "INVERSE_OFFERS"
    )
    assert isinstance(parse_event({"type": "ERROR", "error": {"message": "x"}}), MasterError)


@pytest.mark.parametrize(
    "record, words",
    [
        ([], "not an object"),
        ({}, "no type"),
        ({"type": "BOGUS", "bogus": {}}, "unknown event type"),
        ({"type": "ERROR", "message": "doc-style, wrong nesting"}, "error"),
        ({"type": "OFFERS", "offers": [OFFER]}, "offers"),  # the documentation's wrong shape
        ({"type": "FAILURE", "failure": {"agent_id": {"value": "S"}, "status": "inf"}}, "finite"),
        (
            {"type": "SUBSCRIBED", "subscribed": {"framework_id": {"value": "F"}, "heartbeat_interval_seconds": -1}},
            "not positive",
        ),
        ({"type": "UPDATE", "update": {"status": {"task_id": {"value": "t"}, "state": "TASK_PARTY"}}}, "unknown state"),
        (
            {
                "type": "UPDATE",
                "update": {"status": {"task_id": {"value": "t"}, "state": "TASK_RUNNING", "uuid": "***"}},
            },
            "base64",
        ),
        ({"type": "RESCIND", "rescind": {"offer_id": "O1"}}, "not an object"),
    ],
)
def test_malformed_events_say_why(record, words):
    with pytest.raises(MalformedEvent, match=words):
        parse_event(record)


def test_an_offer_without_an_id_is_skipped_and_the_others_kept():
    event = parse_event({"type": "OFFERS", "offers": {"offers": [{"hostname": "h"}, OFFER]}})
    assert [o.id for o in event.offers] == ["M-O1"] and event.unusable_offer_ids == ()


def test_only_an_offers_event_larger_than_the_slice_is_split_and_its_slices_keep_the_order():
    offers = [{"id": {"value": f"O{n}"}} for n in range(5)]
    event = {"type": "OFFERS", "offers": {"offers": offers}}
    assert split_offers(event, 2) == [
        {"type": "OFFERS", "offers": {"offers": offers[0:2]}},
        {"type": "OFFERS", "offers": {"offers": offers[2:4]}},
        {"type": "OFFERS", "offers": {"offers": offers[4:5]}},
    ]
    assert split_offers(event, 5) is None  # small enough as it is
    assert split_offers({"type": "UPDATE", "update": {}}, 2) is None
    # Shapes parse_event refuses are left to it, whole (it says why).
    assert split_offers({"type": "OFFERS", "offers": offers}, 2) is None
    assert split_offers(["not", "an", "event"], 2) is None
