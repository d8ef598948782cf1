"""The queue_jobs message: builder, validator, and storing it in one transaction."""

from __future__ import annotations

import json

import pytest
from ingestkit import prepare_database, stored_jobs, stored_message_ids

from scheduler.jobs.messages import (
    MAX_JOBS,
    JobRequest,
    MessageError,
    QueueJobsMessage,
    build_queue_jobs,
    build_queue_jobs_for,
    parse_message,
    validate_message,
)
from scheduler.store.database import make_engine
from scheduler.store.ingest import UnknownJobTypes, store_queue_jobs


def _message(**changes):
    message = {
        "type": "queue_jobs",
        "id": "abc123",
        "jobs": [{"job_type": {"name": "alpha", "version": "1.0"}, "priority": 5, "inputs": {"x": 1}}],
    }
    message.update(changes)
    return message


def test_builder_output_round_trips():
    message = build_queue_jobs_for("alpha", "1.0", count=3, priority=7, inputs={"file": "a.tif"})
    assert len(message.id) == 32 and int(message.id, 16) >= 0  # a uuid4 hex
    data = json.loads(message.body())
    assert data == {
        "type": "queue_jobs",
        "id": message.id,
        "jobs": [{"job_type": {"name": "alpha", "version": "1.0"}, "priority": 7, "inputs": {"file": "a.tif"}}] * 3,
    }
    assert parse_message(message.body()) == message
    assert validate_message(message.body().decode()) == message


def test_optional_fields_are_left_out():
    message = build_queue_jobs([JobRequest("alpha", "1.0")], message_id="m-1")
    assert json.loads(message.body()) == {
        "type": "queue_jobs",
        "id": "m-1",
        "jobs": [{"job_type": {"name": "alpha", "version": "1.0"}}],
    }
    parsed = validate_message(message.body())
    assert parsed.jobs == (JobRequest("alpha", "1.0", None, None),)


def test_largest_message_is_accepted():
    message = build_queue_jobs_for("alpha", "1.0", count=MAX_JOBS)
    assert len(validate_message(message.body()).jobs) == MAX_JOBS


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"not json", "body: not valid JSON"),
        (b"\xff\xfe", "body: not UTF-8 text"),
        (
            b'{"type": "queue_jobs", "id": "a", "jobs": [{"job_type": {"name": "a", "version": "1"}, "inputs": {"x": NaN}}]}',
            "body: not valid JSON (NaN is not a number JSON allows)",
        ),
        (json.dumps([1, 2]), "message: must be a JSON object, got a list"),
        (_message(type="cancel_jobs"), "type: must be 'queue_jobs', got 'cancel_jobs'"),
        (_message(type=None), "type: must be 'queue_jobs', got null"),
        (_message(id=None), "id: must be a string of 1 to 64 characters, got null"),
        (_message(id=12), "id: must be a string of 1 to 64 characters, got a number (12)"),
        (_message(id="x" * 65), "id: must be 1 to 64 characters without spaces or control characters"),
        (_message(id="has space"), "id: must be 1 to 64 characters without spaces or control characters"),
        (_message(id=""), "id: must be 1 to 64 characters without spaces or control characters"),
        (_message(jobs=[]), "jobs: must hold 1 to 10000 jobs, got 0"),
        (_message(jobs={"a": 1}), "jobs: must be a list of 1 to 10000 jobs, got an object"),
        (
            _message(jobs=[{"job_type": {"name": "a", "version": "1"}}] * (MAX_JOBS + 1)),
            "jobs: must hold 1 to 10000 jobs, got 10001",
        ),
        (_message(jobs=["alpha"]), "jobs[0]: must be an object, got a string"),
        (_message(jobs=[{}]), "jobs[0].job_type: must be an object {name, version}, got null"),
        (_message(jobs=[{"job_type": {"name": "a"}}]), "jobs[0].job_type.version: is required"),
        (
            _message(jobs=[{"job_type": {"name": "a", "version": 1.0}}]),
            "jobs[0].job_type.version: must be a string, got a number (1.0)",
        ),
        (_message(jobs=[{"job_type": {"name": "", "version": "1"}}]), "jobs[0].job_type.name: must not be empty"),
        (_message(jobs=[{"job_type": {"name": "a", "version": "1", "tag": "x"}}]), "jobs[0].job_type.tag: unknown key"),
        (_message(jobs=[{"job_type": {"name": "a", "version": "1"}, "priorty": 5}]), "jobs[0].priorty: unknown key"),
        (
            _message(jobs=[{"job_type": {"name": "a", "version": "1"}, "priority": "5"}]),
            "jobs[0].priority: must be a whole number, got a string",
        ),
        (
            _message(jobs=[{"job_type": {"name": "a", "version": "1"}, "priority": True}]),
            "jobs[0].priority: must be a whole number, got a boolean",
        ),
        (
            _message(jobs=[{"job_type": {"name": "a", "version": "1"}, "priority": -1}]),
            "jobs[0].priority: must be from 0 to 2147483647, got -1",
        ),
        (
            _message(jobs=[{"job_type": {"name": "a", "version": "1"}, "priority": 2**31}]),
            "jobs[0].priority: must be from 0 to 2147483647, got 2147483648",
        ),
        (
            _message(jobs=[{"job_type": {"name": "a", "version": "1"}, "inputs": [1]}]),
            "jobs[0].inputs: must be a JSON object, got a list",
        ),
        (_message(extra=1), "extra: unknown key"),
    ],
)
def test_validator_names_each_problem(body, expected):
    if isinstance(body, dict):
        body = json.dumps(body)
    problems = validate_message(body)
    assert isinstance(problems, list), problems
    assert any(p.startswith(expected) for p in problems), problems


def test_problems_of_a_huge_bad_message_are_capped():
    body = json.dumps(_message(jobs=[{"job_type": {"name": "a", "version": 1}}] * 500))
    problems = validate_message(body)
    assert len(problems) == 21 and problems[-1] == "... and 480 more problems"
    with pytest.raises(MessageError) as caught:
        parse_message(body)
    assert caught.value.total == 500 and "(and 495 more)" in str(caught.value)


def test_several_problems_at_once():
    body = json.dumps({"type": "x", "jobs": [{"job_type": {"name": "a", "version": "1"}, "priority": "high"}]})
    assert validate_message(body) == [
        "type: must be 'queue_jobs', got 'x'",
        "id: must be a string of 1 to 64 characters, got null",
        "jobs[0].priority: must be a whole number, got a string",
    ]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"count": 0}, "count: must be a whole number from 1 to 10000, got 0"),
        ({"count": MAX_JOBS + 1}, "count: must be a whole number from 1 to 10000, got 10001"),
        ({"priority": -5}, "jobs[0].priority: must be from 0 to 2147483647, got -5"),
        ({"inputs": {"x": float("nan")}}, "jobs: inputs cannot be sent as JSON"),
        ({"message_id": "a b"}, "id: must be 1 to 64 characters"),
    ],
)
def test_builder_refuses_what_handlers_would_refuse(kwargs, expected):
    with pytest.raises(MessageError) as caught:
        build_queue_jobs_for("alpha", "1.0", **kwargs)
    assert str(caught.value).startswith(expected)


# --- storing ---------------------------------------------------------------------------------


@pytest.mark.integration
def test_store_inserts_once_in_one_transaction(database_url):
    alpha, beta = prepare_database(database_url)
    message = build_queue_jobs(
        [JobRequest("alpha", "1.0", 3, {"a": [1, 2]}), JobRequest("beta", "2.1"), JobRequest("alpha", "1.0")],
        message_id="msg-1",
    )
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            result = store_queue_jobs(connection, message)
        assert (result.message_id, result.num_jobs, result.duplicate) == ("msg-1", 3, False)
        with engine.begin() as connection:
            again = store_queue_jobs(connection, message)
        assert again.duplicate is True

        unknown = QueueJobsMessage(
            "msg-2", (JobRequest("alpha", "1.0"), JobRequest("gamma", "1"), JobRequest("beta", "9"))
        )
        with pytest.raises(UnknownJobTypes) as caught, engine.begin() as connection:
            store_queue_jobs(connection, unknown)
        assert str(caught.value) == "unknown job types: beta 9, gamma 1"
    finally:
        engine.dispose()

    jobs = stored_jobs(database_url)
    assert stored_message_ids(database_url) == ["msg-1"]
    assert [(j["job_type_id"], j["priority"], j["status"], j["num_exes"], j["message_id"]) for j in jobs] == [
        (alpha.id, 3, "QUEUED", 0, "msg-1"),
        (beta.id, 100, "QUEUED", 0, "msg-1"),
        (alpha.id, 100, "QUEUED", 0, "msg-1"),
    ]
    assert json.loads(jobs[0]["inputs"]) == {"a": [1, 2]} and jobs[1]["inputs"] is None
    assert all(j["queued"] is not None and j["last_modified"] is not None for j in jobs)
    assert all(j["started"] is None and j["ended"] is None and j["error_category"] is None for j in jobs)
