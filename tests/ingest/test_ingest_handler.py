"""The message handler end to end against the real RabbitMQ: stored once, malformed rejected,
redeliveries not duplicated, database and broker outages survived without losing a message."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit

import pytest
from ingestkit import (
    TcpProxy,
    clean_postgres,
    make_settings,
    prepare_database,
    publish_raw,
    queue_depth,
    queue_state,
    stored_jobs,
    stored_message_ids,
    wait_until,
    with_port,
)
from kombu.message import Message

from scheduler.jobs.messages import JobRequest, build_queue_jobs, build_queue_jobs_for
from scheduler.messaging.command import run_message_handler
from scheduler.messaging.producer import CommandProducer, publish_queue_jobs

pytestmark = pytest.mark.integration


def _processed(handler, messages: int):
    def done():
        c = handler.counters
        return c["stored_messages"] + c["duplicate_messages"] + c["rejected_messages"] >= messages

    return done


def test_messages_are_stored_exactly_once(database_url, rabbitmq_url, queue_name, start_handler, caplog):
    alpha, beta = prepare_database(database_url)
    settings = make_settings(database_url, rabbitmq_url, queue_name)
    messages = [
        build_queue_jobs([JobRequest("alpha", "1.0", i, {"n": i}), JobRequest("beta", "2.1")], message_id=f"m{i}")
        for i in range(5)
    ]
    with CommandProducer(settings) as producer:
        producer.publish(messages[0])
        producer.publish(messages[1])
    publish_raw(rabbitmq_url, queue_name, b"{not json")  # malformed: rejected, must not block the next
    publish_raw(rabbitmq_url, queue_name, json.dumps({"type": "cancel_jobs", "id": "x1", "jobs": []}))
    publish_queue_jobs(settings, build_queue_jobs_for("gamma", "1.0", count=2, message_id="unknown-type"))
    with CommandProducer(settings) as producer:
        for message in messages[2:]:
            producer.publish(message)
        producer.publish(messages[3])  # the same id again: a redelivery
    assert queue_depth(rabbitmq_url, queue_name) == 9

    caplog.set_level(logging.INFO, logger="scheduler.messaging.handler")
    handler = start_handler(settings)
    wait_until(_processed(handler, 9), what="all 9 messages handled")
    wait_until(lambda: queue_depth(rabbitmq_url, queue_name) == 0, what="an empty queue")

    assert handler.counters == {
        "stored_messages": 5,
        "stored_jobs": 10,
        "duplicate_messages": 1,
        "duplicate_jobs": 2,
        "rejected_messages": 3,
        "rejected_jobs": 2,
        "dead_lettered": 3,
        "delivery_counted": 0,
        "storage_failures": 0,
        "broker_errors": 0,
    }
    assert queue_depth(rabbitmq_url, queue_name + ".dead") == 3
    jobs = stored_jobs(database_url)
    assert len(jobs) == 10
    assert stored_message_ids(database_url) == [f"m{i}" for i in range(5)]
    by_message = {}
    for job in jobs:
        by_message.setdefault(job["message_id"], []).append(job)
    for i in range(5):
        first, second = sorted(by_message[f"m{i}"], key=lambda j: j["id"])
        assert (first["job_type_id"], first["priority"], json.loads(first["inputs"])) == (alpha.id, i, {"n": i})
        assert (second["job_type_id"], second["priority"], second["inputs"]) == (beta.id, 100, None)
        assert first["status"] == second["status"] == "QUEUED"

    rejected = [r.getMessage() for r in caplog.records if r.getMessage().startswith("rejected")]
    assert len(rejected) == 3
    assert any("a message of 9 bytes" in line and "body: not valid JSON" in line for line in rejected)
    assert any("message x1" in line and "type: must be 'queue_jobs'" in line for line in rejected)
    assert any("message unknown-type" in line and "unknown job type: gamma 1.0" in line for line in rejected)


def test_a_message_redelivered_after_commit_is_not_stored_twice(
    tmp_path, rabbitmq_url, queue_name, start_handler, monkeypatch
):
    """The handler dies between the commit and the acknowledgement: the broker redelivers the message."""
    database_url = f"sqlite:///{tmp_path}/db.sqlite"
    prepare_database(database_url)
    settings = make_settings(database_url, rabbitmq_url, queue_name)
    real_ack = Message.ack
    acks = []

    def failing_first_ack(self, *args, **kwargs):
        acks.append(self.delivery_tag)
        if len(acks) == 1:
            raise ConnectionResetError("connection lost before the ack")
        return real_ack(self, *args, **kwargs)

    monkeypatch.setattr(Message, "ack", failing_first_ack)
    publish_queue_jobs(settings, build_queue_jobs_for("alpha", "1.0", count=3, message_id="once"))
    handler = start_handler(settings)
    wait_until(lambda: handler.counters["duplicate_messages"] == 1, what="the redelivery")
    wait_until(lambda: queue_depth(rabbitmq_url, queue_name) == 0, what="an empty queue")
    assert handler.counters["stored_messages"] == 1 and handler.counters["broker_errors"] == 1
    assert [j["message_id"] for j in stored_jobs(database_url)] == ["once"] * 3


def _postgres_proxy(postgres_url: str) -> tuple[TcpProxy, str]:
    parts = urlsplit(postgres_url)
    proxy = TcpProxy(parts.hostname, parts.port or 5432)
    return proxy, with_port(postgres_url, proxy.port)


def test_database_outage_keeps_the_message_in_the_queue(postgres_url, rabbitmq_url, queue_name, start_handler):
    clean_postgres(postgres_url)
    prepare_database(postgres_url)

    proxy, proxied_url = _postgres_proxy(postgres_url)  # not started: the database is unreachable
    settings = make_settings(proxied_url, rabbitmq_url, queue_name)
    publish_queue_jobs(settings, build_queue_jobs_for("alpha", "1.0", count=4, message_id="during-outage"))
    publish_queue_jobs(settings, build_queue_jobs_for("beta", "2.1", count=1, message_id="also-waiting"))
    handler = start_handler(settings)
    try:
        wait_until(lambda: handler.counters["storage_failures"] >= 1, what="a storage failure")
        wait_until(lambda: not handler.consuming, what="the consumer to pause")
        # Not acknowledged and not held: both are back in the queue, ready.
        wait_until(lambda: queue_state(rabbitmq_url, queue_name) == (2, 0), what="both messages back, no consumer")
        # The handler keeps probing with a growing delay and holds nothing meanwhile.
        time.sleep(1.5)
        assert queue_state(rabbitmq_url, queue_name) == (2, 0)
        assert handler.counters["stored_messages"] == 0 and handler.counters["rejected_messages"] == 0
        assert handler.is_alive and "Connection refused" in handler.last_error
        assert stored_jobs(postgres_url) == []

        proxy.start()  # the database is back
        wait_until(lambda: handler.counters["stored_messages"] == 2, what="both messages stored")
        wait_until(lambda: queue_depth(rabbitmq_url, queue_name) == 0, what="an empty queue")
    finally:
        proxy.stop()
    assert sorted(j["message_id"] for j in stored_jobs(postgres_url)) == ["also-waiting"] + ["during-outage"] * 4
    assert handler.counters["rejected_messages"] == 0 and handler.counters["duplicate_messages"] == 0


def test_sqlite_without_schema_is_a_storage_failure(tmp_path, rabbitmq_url, queue_name, start_handler):
    database_url = f"sqlite:///{tmp_path}/later.sqlite"
    settings = make_settings(database_url, rabbitmq_url, queue_name)
    publish_queue_jobs(settings, build_queue_jobs_for("alpha", "1.0", count=2, message_id="early"))
    handler = start_handler(settings)
    wait_until(lambda: handler.counters["storage_failures"] >= 1, what="a storage failure")
    wait_until(lambda: queue_depth(rabbitmq_url, queue_name) == 1, what="the message back in the queue")
    assert "no such table" in (handler.last_error or "")
    prepare_database(database_url)
    wait_until(lambda: handler.counters["stored_messages"] == 1, what="the message stored")
    assert [j["message_id"] for j in stored_jobs(database_url)] == ["early", "early"]


def test_handler_reconnects_when_the_broker_connection_drops(tmp_path, rabbitmq_url, queue_name, start_handler):
    database_url = f"sqlite:///{tmp_path}/db.sqlite"
    prepare_database(database_url)
    parts = urlsplit(rabbitmq_url)
    proxy = TcpProxy(parts.hostname, parts.port or 5672)
    proxy.start()
    settings = make_settings(database_url, with_port(rabbitmq_url, proxy.port), queue_name)
    direct = make_settings(database_url, rabbitmq_url, queue_name)
    try:
        handler = start_handler(settings)
        publish_queue_jobs(direct, build_queue_jobs_for("alpha", "1.0", message_id="before"))
        wait_until(lambda: handler.counters["stored_messages"] == 1, what="the first message stored")

        proxy.stop()  # the broker is gone for the handler
        wait_until(lambda: handler.counters["broker_errors"] >= 1, what="the handler to notice")
        publish_queue_jobs(direct, build_queue_jobs_for("alpha", "1.0", message_id="while-away"))
        assert queue_depth(rabbitmq_url, queue_name) == 1

        proxy.start()
        wait_until(lambda: handler.counters["stored_messages"] == 2, what="the second message stored")
    finally:
        proxy.stop()
    assert stored_message_ids(database_url) == ["before", "while-away"]


def test_memory_transport_within_one_process(tmp_path, start_handler):
    database_url = f"sqlite:///{tmp_path}/db.sqlite"
    prepare_database(database_url)
    settings = make_settings(database_url, "memory://", "memory-test-queue")
    with CommandProducer(settings) as producer:
        for i in range(3):
            producer.publish(build_queue_jobs_for("beta", "2.1", count=2, message_id=f"mem{i}"))
        producer.publish(build_queue_jobs_for("beta", "2.1", count=2, message_id="mem0"))
    assert queue_depth("memory://", "memory-test-queue") == 4
    handler = start_handler(settings)
    wait_until(_processed(handler, 4), what="4 messages handled")
    assert handler.counters["stored_jobs"] == 6 and handler.counters["duplicate_messages"] == 1
    assert stored_message_ids(database_url) == ["mem0", "mem1", "mem2"]
    assert queue_depth("memory://", "memory-test-queue") == 0


def test_run_message_handler_migrates_consumes_and_stops(tmp_path, rabbitmq_url, queue_name):
    database_url = f"sqlite:///{tmp_path}/fresh.sqlite"
    settings = make_settings(database_url, rabbitmq_url, queue_name)
    stop = threading.Event()
    result = []
    thread = threading.Thread(target=lambda: result.append(run_message_handler(settings, stop)))
    thread.start()
    try:
        wait_until(lambda: stored_message_ids_or_none(database_url) is not None, what="the migration")
        prepare_database(database_url)  # register the job types once the schema exists
        publish_queue_jobs(settings, build_queue_jobs_for("alpha", "1.0", count=2, message_id="cmd"))
        wait_until(lambda: stored_message_ids_or_none(database_url) == ["cmd"], what="the message stored")
    finally:
        stop.set()
        thread.join(20)
    assert not thread.is_alive() and result == [0]


def test_run_message_handler_waits_for_the_database(postgres_url, rabbitmq_url, queue_name, caplog):
    """Started while the database is unreachable: it retries the migration, then consumes."""
    clean_postgres(postgres_url)
    proxy, proxied_url = _postgres_proxy(postgres_url)
    settings = make_settings(proxied_url, rabbitmq_url, queue_name)
    caplog.set_level(logging.INFO, logger="scheduler.messaging.handler")
    stop = threading.Event()
    result = []
    thread = threading.Thread(target=lambda: result.append(run_message_handler(settings, stop)))
    thread.start()
    try:
        wait_until(lambda: any("cannot migrate" in r.getMessage() for r in caplog.records), what="a failed migration")
        assert queue_depth(rabbitmq_url, queue_name) is None  # not consuming before the schema exists
        proxy.start()
        wait_until(lambda: stored_message_ids_or_none(postgres_url) == [], timeout=20, what="the migration")
        prepare_database(postgres_url)
        publish_queue_jobs(settings, build_queue_jobs_for("beta", "2.1", message_id="after-wait"))
        wait_until(lambda: stored_message_ids_or_none(postgres_url) == ["after-wait"], what="the message stored")
    finally:
        stop.set()
        thread.join(20)
        proxy.stop()
    assert result == [0]


@pytest.mark.slow
def test_message_handler_process_stops_on_sigterm(tmp_path, rabbitmq_url, queue_name):
    database_url = f"sqlite:///{tmp_path}/db.sqlite"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SCALE_BROKER_URL": rabbitmq_url,
        "SCALE_QUEUE_NAME": queue_name,
    }
    script = (
        "import logging, sys\n"
        "from scheduler.config import load_settings\n"
        "from scheduler.logs import setup_logging\n"
        "from scheduler.messaging.command import run_message_handler\n"
        "settings = load_settings()\n"
        "setup_logging('INFO', settings.secret_values())\n"
        "sys.exit(run_message_handler(settings))\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script], env=env, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        wait_until(lambda: (queue_state(rabbitmq_url, queue_name) or (0, 0))[1] == 1, what="the consumer")
        publish_queue_jobs(
            make_settings(database_url, rabbitmq_url, queue_name),
            build_queue_jobs_for("alpha", "1.0", message_id="to-a-process"),
        )
        wait_until(lambda: queue_depth(rabbitmq_url, queue_name) == 0, what="the message consumed")
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert "rejected message to-a-process" in err and "unknown job type: alpha 1.0" in err  # no job types registered
    assert "message handler stopped" in err and "guest:guest" not in err


def stored_message_ids_or_none(database_url):
    try:
        return stored_message_ids(database_url)
    except Exception:
        return None
