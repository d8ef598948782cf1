"""Hostile command messages on the real RabbitMQ: each is dead-lettered unchanged with its reason,
acknowledged on the command queue, and the messages behind it are stored as usual."""

from __future__ import annotations

import bz2
import contextlib
import json
import logging
import time

import pytest
import sqlalchemy
from ingestkit import (
    clean_postgres,
    make_settings,
    prepare_database,
    publish_raw,
    queue_depth,
    stored_jobs,
    stored_message_ids,
    wait_until,
)
from kombu import Connection, Consumer

from scheduler.jobs.messages import JobRequest, build_queue_jobs, build_queue_jobs_for
from scheduler.messaging.command_queue import command_queue
from scheduler.messaging.envelope import REASON_HEADER, keep_raw
from scheduler.messaging.handler import MessageHandler
from scheduler.messaging.producer import publish_queue_jobs
from scheduler.messaging.tally import TALLY
from scheduler.store.database import make_engine, normalize_url
from scheduler.store.ingest import refused_by_database

pytestmark = pytest.mark.integration


def dead_letters(broker_url: str, queue: str, expected: int, timeout: float = 10.0) -> list:
    """The messages of ``<queue>.dead`` as (raw body, headers), taken with a consumer that never decompresses."""
    got: list = []
    with Connection(broker_url, connect_timeout=5) as connection:
        channel = connection.channel()
        keep_raw(channel)
        consumer = Consumer(channel, queues=[command_queue(queue + ".dead")], on_message=got.append)
        consumer.consume()
        deadline = time.monotonic() + timeout
        while len(got) < expected and time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                connection.drain_events(timeout=0.2)
        result = [(bytes(m.body), dict(m.headers)) for m in got]
        for message in got:
            message.ack()
        consumer.cancel()
    return result


def publish(broker_url: str, queue: str, body: bytes, headers: dict | None = None) -> None:
    declared = command_queue(queue)
    with Connection(broker_url, connect_timeout=5) as connection:
        connection.Producer().publish(
            body,
            exchange=declared.exchange,
            routing_key=declared.routing_key,
            declare=[declared],
            content_type="application/json",
            content_encoding="utf-8",
            headers=headers or {},
            delivery_mode=2,
        )


def _memory_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/self/status")


def _bz2_zeros(megabytes: int) -> bytes:
    compressor = bz2.BZ2Compressor(9)
    chunk = bytes(1 << 20)
    return b"".join(compressor.compress(chunk) for _ in range(megabytes)) + compressor.flush()


def test_a_bz2_bomb_is_dead_lettered_without_being_decompressed(tmp_path, rabbitmq_url, queue_name, start_handler):
    database_url = f"sqlite:///{tmp_path}/db.sqlite"
    prepare_database(database_url)
    settings = make_settings(database_url, rabbitmq_url, queue_name)
    bomb = _bz2_zeros(400)  # 400 MB of zeros
    assert len(bomb) < 1000
    headers = {"compression": "application/x-bz2", "id": "bomb"}
    publish(rabbitmq_url, queue_name, bomb, headers)
    publish_queue_jobs(settings, build_queue_jobs_for("alpha", "1.0", message_id="after-the-bomb"))

    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # resets the peak resident size (VmHWM) of this process
    before = _memory_kb("VmRSS")
    handler = start_handler(settings)
    wait_until(lambda: handler.counters["stored_messages"] == 1, what="the message behind the bomb")
    peak = _memory_kb("VmHWM")
    assert peak - before < 20 * 1024, f"peak resident memory grew by {(peak - before) / 1024:.0f} MB"

    assert handler.counters["rejected_messages"] == 1 and handler.counters["dead_lettered"] == 1
    assert queue_depth(rabbitmq_url, queue_name) == 0
    [(body, dead_headers)] = dead_letters(rabbitmq_url, queue_name, 1)
    assert body == bomb  # unchanged: still compressed
    assert dead_headers["compression"] == "application/x-bz2" and dead_headers["id"] == "bomb"
    assert dead_headers[REASON_HEADER] == "compressed messages are refused (compression: 'application/x-bz2')"


def test_a_nul_in_a_job_type_name_does_not_stop_intake(postgres_url, rabbitmq_url, queue_name, start_handler):
    clean_postgres(postgres_url)
    prepare_database(postgres_url)
    settings = make_settings(postgres_url, rabbitmq_url, queue_name)
    bad = json.dumps(
        {"type": "queue_jobs", "id": "nul", "jobs": [{"job_type": {"name": "al\x00pha", "version": "1.0"}}]}
    )
    publish_raw(rabbitmq_url, queue_name, bad)
    for i in range(10):
        publish_queue_jobs(settings, build_queue_jobs_for("alpha", "1.0", message_id=f"good{i}"))
    handler = start_handler(settings)
    started = time.monotonic()
    wait_until(lambda: len(stored_message_ids(postgres_url)) == 10, timeout=5, what="the 10 valid messages stored")
    assert time.monotonic() - started < 5
    assert stored_message_ids(postgres_url) == sorted(f"good{i}" for i in range(10))
    [(body, headers)] = dead_letters(rabbitmq_url, queue_name, 1)
    assert body == bad.encode()
    assert headers[REASON_HEADER] == "jobs[0].job_type.name: must not contain NUL (U+0000)"
    assert handler.counters["storage_failures"] == 0 and handler.counters["rejected_messages"] == 1


def _queue_jobs(message_id: str, name: str = "alpha", **job) -> str:
    return json.dumps(
        {"type": "queue_jobs", "id": message_id, "jobs": [{"job_type": {"name": name, "version": "1.0"}, **job}]}
    )


HOSTILE = [
    # a lone surrogate in the id: psycopg2 cannot encode it, which read as "the database is down"
    ('{"type":"queue_jobs","id":"a\\ud800","jobs":[{"job_type":{"name":"alpha","version":"1.0"}}]}', "id: must be"),
    # a terminal escape in a name, forged into log lines
    (_queue_jobs("esc", "alpha\x1b[31m"), "jobs[0].job_type.name: must not contain a control character (U+001B)"),
    # 1e400 was stored as Infinity
    (
        '{"type":"queue_jobs","id":"big","jobs":[{"job_type":{"name":"alpha","version":"1.0"},"inputs":{"x":1e400}}]}',
        "body: not valid JSON (number 1e400 is out of range)",
    ),
    (
        '{"type":"queue_jobs","id":"nan","jobs":[{"job_type":{"name":"alpha","version":"1.0"},"inputs":{"x":NaN}}]}',
        "body: not valid JSON (NaN is not a number JSON allows)",
    ),
    # NUL deep inside the inputs, in a key and in a value
    (_queue_jobs("deep", inputs={"a": [{"b\x00": 1}]}), "jobs[0].inputs.a[0]: a key must not contain NUL (U+0000)"),
    (_queue_jobs("deepv", inputs={"a": "x\x00y"}), "jobs[0].inputs.a: must not contain NUL (U+0000)"),
]


@pytest.mark.parametrize(("body", "reason"), HOSTILE)
def test_each_hostile_body_is_dead_lettered_with_its_reason(
    postgres_url, rabbitmq_url, queue_name, start_handler, body, reason
):
    clean_postgres(postgres_url)
    prepare_database(postgres_url)
    settings = make_settings(postgres_url, rabbitmq_url, queue_name)
    publish_raw(rabbitmq_url, queue_name, body)
    publish_queue_jobs(settings, build_queue_jobs_for("alpha", "1.0", message_id="behind"))
    handler = start_handler(settings)
    wait_until(lambda: handler.counters["stored_messages"] == 1, what="the message behind it stored")
    [(dead_body, headers)] = dead_letters(rabbitmq_url, queue_name, 1)
    assert dead_body == body.encode()
    assert headers[REASON_HEADER].startswith(reason), headers[REASON_HEADER]
    assert handler.counters["storage_failures"] == 0
    assert stored_message_ids(postgres_url) == ["behind"]


def test_a_body_over_the_size_cap_is_dead_lettered(tmp_path, rabbitmq_url, queue_name, start_handler):
    database_url = f"sqlite:///{tmp_path}/db.sqlite"
    prepare_database(database_url)
    settings = make_settings(database_url, rabbitmq_url, queue_name, MESSAGE_MAX_BYTES="1000")
    big = _queue_jobs("big", inputs={"pad": "x" * 2000})
    publish_raw(rabbitmq_url, queue_name, big)
    handler = start_handler(settings)
    wait_until(lambda: handler.counters["dead_lettered"] == 1, what="the big message dead-lettered")
    [(body, headers)] = dead_letters(rabbitmq_url, queue_name, 1)
    assert body == big.encode()
    assert headers[REASON_HEADER] == f"the body has {len(big)} bytes, more than MESSAGE_MAX_BYTES (1000)"


def test_a_reused_id_with_other_jobs_is_dead_lettered(tmp_path, rabbitmq_url, queue_name, start_handler, caplog):
    database_url = f"sqlite:///{tmp_path}/db.sqlite"
    prepare_database(database_url)
    settings = make_settings(database_url, rabbitmq_url, queue_name)
    caplog.set_level(logging.WARNING, logger="scheduler.messaging.handler")
    first = build_queue_jobs([JobRequest("alpha", "1.0", 5, {"n": 1})], message_id="reused")
    same = build_queue_jobs([JobRequest("alpha", "1.0", 5, {"n": 1})], message_id="reused")
    other = build_queue_jobs([JobRequest("alpha", "1.0", 5, {"n": 2}), JobRequest("beta", "2.1")], message_id="reused")
    for message in (first, same, other):
        publish_queue_jobs(settings, message)
    handler = start_handler(settings)
    wait_until(lambda: handler.counters["dead_lettered"] == 1, what="the reused id dead-lettered")
    assert handler.counters["stored_messages"] == 1 and handler.counters["duplicate_messages"] == 1
    [(body, headers)] = dead_letters(rabbitmq_url, queue_name, 1)
    assert body == other.body()
    assert "stored already with other jobs" in headers[REASON_HEADER]
    assert any("rejected message reused" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert [json.loads(j["inputs"]) for j in stored_jobs(database_url)] == [{"n": 1}]


def _add_refusals(postgres_url: str) -> None:
    """A CHECK constraint and a trigger: the real database refuses some values the message validation allows."""
    engine = sqlalchemy.create_engine(normalize_url(postgres_url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("ALTER TABLE job ADD CONSTRAINT small_priority CHECK (priority < 1000000)")
            connection.exec_driver_sql(
                "CREATE FUNCTION refuse_poison() RETURNS trigger AS $$ BEGIN "
                "IF NEW.inputs LIKE '%%poison%%' THEN RAISE EXCEPTION 'poison' USING ERRCODE = '22023'; END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            connection.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON job FOR EACH ROW EXECUTE FUNCTION refuse_poison()"
            )
    finally:
        engine.dispose()


def test_values_the_database_refuses_are_dead_lettered_not_retried(
    postgres_url, rabbitmq_url, queue_name, start_handler
):
    clean_postgres(postgres_url)
    prepare_database(postgres_url)
    _add_refusals(postgres_url)
    settings = make_settings(postgres_url, rabbitmq_url, queue_name)
    publish_queue_jobs(settings, build_queue_jobs_for("alpha", "1.0", priority=2_000_000, message_id="integrity"))
    publish_queue_jobs(settings, build_queue_jobs_for("alpha", "1.0", inputs={"x": "poison"}, message_id="data"))
    publish_queue_jobs(settings, build_queue_jobs_for("alpha", "1.0", message_id="fine"))
    handler = start_handler(settings)
    wait_until(lambda: handler.counters["stored_messages"] == 1, what="the valid message stored")
    assert handler.counters["storage_failures"] == 0 and handler.counters["dead_lettered"] == 2
    reasons = sorted(headers[REASON_HEADER] for _, headers in dead_letters(rabbitmq_url, queue_name, 2))
    assert reasons[0].startswith("the database refuses it: CheckViolation") or "CheckViolation" in reasons[0]
    assert "poison" in reasons[1]
    assert stored_message_ids(postgres_url) == ["fine"]


def test_driver_refusals_and_outages_are_told_apart(postgres_url, tmp_path):
    clean_postgres(postgres_url)
    prepare_database(postgres_url)
    engine = make_engine(postgres_url)
    try:
        for value in ("a\x00b", "a\ud800b"):  # what psycopg2 refuses to send
            with pytest.raises(Exception) as caught, engine.begin() as connection:
                connection.execute(sqlalchemy.text("SELECT :v"), {"v": value})
            assert refused_by_database(caught.value), repr(caught.value)
    finally:
        engine.dispose()
    down = make_engine("postgresql://postgres@127.0.0.1:1/none")
    try:
        with pytest.raises(Exception) as caught, down.connect():
            pass
        assert not refused_by_database(caught.value)
    finally:
        down.dispose()
    missing = make_engine(f"sqlite:///{tmp_path}/empty.sqlite")
    try:
        with pytest.raises(Exception) as caught, missing.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT id FROM job"))
        assert not refused_by_database(caught.value)  # no schema yet: wait for it
    finally:
        missing.dispose()


def _take_without_ack(broker_url: str, queue: str) -> None:
    """A handler that dies holding the message: received, never acknowledged, connection closed."""
    got: list = []
    with Connection(broker_url, connect_timeout=5) as connection:
        channel = connection.channel()
        keep_raw(channel)
        consumer = Consumer(channel, queues=[command_queue(queue)], on_message=got.append, prefetch_count=1)
        consumer.consume()
        deadline = time.monotonic() + 10
        while not got and time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                connection.drain_events(timeout=0.2)
    assert got, "nothing to take"


def test_a_redelivered_message_is_counted_and_then_stored(tmp_path, rabbitmq_url, queue_name, start_handler):
    database_url = f"sqlite:///{tmp_path}/db.sqlite"
    prepare_database(database_url)
    settings = make_settings(database_url, rabbitmq_url, queue_name, MESSAGE_MAX_DELIVERIES="3")
    publish_queue_jobs(settings, build_queue_jobs_for("alpha", "1.0", message_id="survivor"))
    _take_without_ack(rabbitmq_url, queue_name)
    handler = start_handler(settings)
    wait_until(lambda: handler.counters["stored_messages"] == 1, what="the message stored")
    assert handler.counters["delivery_counted"] == 1 and handler.counters["dead_lettered"] == 0


def test_a_message_that_kills_handlers_is_dead_lettered_at_the_limit(tmp_path, rabbitmq_url, queue_name, start_handler):
    database_url = f"sqlite:///{tmp_path}/db.sqlite"
    prepare_database(database_url)
    settings = make_settings(database_url, rabbitmq_url, queue_name, MESSAGE_MAX_DELIVERIES="3")
    body = build_queue_jobs_for("alpha", "1.0", message_id="killer").body()
    publish(rabbitmq_url, queue_name, body, {"x-scale-deliveries": 2})  # counted twice already
    _take_without_ack(rabbitmq_url, queue_name)  # and a third handler died on it
    handler = start_handler(settings)
    wait_until(lambda: handler.counters["dead_lettered"] == 1, what="the message dead-lettered")
    [(dead_body, headers)] = dead_letters(rabbitmq_url, queue_name, 1)
    assert dead_body == body
    assert headers[REASON_HEADER] == "delivered 4 times without being handled (MESSAGE_MAX_DELIVERIES 3)"
    assert stored_message_ids(database_url) == []


def test_memory_transport_dead_letters_too(tmp_path, start_handler):
    database_url = f"sqlite:///{tmp_path}/db.sqlite"
    prepare_database(database_url)
    queue = "memory-dead-letter-test"
    settings = make_settings(database_url, "memory://", queue)
    before = TALLY.values()
    publish("memory://", queue, b"\x00not json", {"compression": "application/x-bz2"})
    handler = start_handler(settings)
    wait_until(lambda: handler.counters["dead_lettered"] == 1, what="dead-lettered")
    [(body, headers)] = dead_letters("memory://", queue, 1)
    assert body == b"\x00not json" and headers["compression"] == "application/x-bz2"
    assert headers[REASON_HEADER].startswith("compressed messages are refused")
    after = TALLY.values()
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1)


def test_a_message_handler_counts_only_its_own(tmp_path):
    """The per-handler counters start at zero; the process tally is shared (read by /metrics)."""
    settings = make_settings(f"sqlite:///{tmp_path}/db.sqlite", "memory://", "unused")
    handler = MessageHandler(settings)
    assert handler.counters["dead_lettered"] == 0


def test_the_producer_refuses_what_the_handlers_would_dead_letter(tmp_path):
    from scheduler.messaging.producer import PublishError

    settings = make_settings(f"sqlite:///{tmp_path}/db.sqlite", "memory://", "producer-cap", MESSAGE_MAX_BYTES="500")
    message = build_queue_jobs_for("alpha", "1.0", count=20, message_id="too-big")
    with pytest.raises(PublishError, match="more than MESSAGE_MAX_BYTES"):
        publish_queue_jobs(settings, message)
    assert queue_depth("memory://", "producer-cap") in (None, 0)


def test_a_message_handed_back_during_an_outage_is_not_counted_as_a_delivery(
    tmp_path, rabbitmq_url, queue_name, start_handler
):
    database_url = f"sqlite:///{tmp_path}/later.sqlite"  # no schema yet: storing fails, as when down
    settings = make_settings(database_url, rabbitmq_url, queue_name, MESSAGE_MAX_DELIVERIES="1")
    publish_queue_jobs(settings, build_queue_jobs_for("alpha", "1.0", message_id="patient"))
    handler = start_handler(settings, prefetch=1)
    wait_until(lambda: handler.counters["storage_failures"] >= 1, what="a storage failure")
    prepare_database(database_url)
    wait_until(lambda: handler.counters["stored_messages"] == 1, what="the message stored")
    # Even at a limit of one delivery, the requeue of this handler's own was not counted.
    assert handler.counters["delivery_counted"] == 0 and handler.counters["dead_lettered"] == 0


def test_inputs_with_what_csv_quotes_are_stored_exactly_and_in_order(postgres_url):
    """Jobs go to PostgreSQL with COPY as CSV: commas, quotes, line ends, backslashes and text that
    looks like NULL must come back as they were sent, in the message's order."""
    from scheduler.jobs.messages import validate_message
    from scheduler.store.ingest import store_queue_jobs

    clean_postgres(postgres_url)
    prepare_database(postgres_url)
    awkward = [{"s": 'a,"b"\n\\N'}, {"s": ""}, {"s": "\\."}, {"n": None}, None, {"t": "\r\n,,"}]
    requests = [JobRequest("alpha", "1.0", inputs=value, priority=index) for index, value in enumerate(awkward)]
    message = validate_message(build_queue_jobs(requests, message_id="csv").body())
    engine = make_engine(postgres_url)
    try:
        with engine.begin() as connection:
            assert not store_queue_jobs(connection, message).duplicate
    finally:
        engine.dispose()
    jobs = stored_jobs(postgres_url)
    assert [None if j["inputs"] is None else json.loads(j["inputs"]) for j in jobs] == awkward
    assert [j["priority"] for j in jobs] == list(range(len(awkward)))
