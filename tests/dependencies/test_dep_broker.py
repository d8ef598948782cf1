"""The msg_queue probe against the real RabbitMQ of this machine and kombu's in-memory transport."""

from __future__ import annotations

import asyncio
import importlib.util
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest
from depkit import BROKER_PASSWORD, Forwarder, free_port
from kombu import Connection, Producer

from scheduler.dependencies import msg_queue_probe as msg_queue
from scheduler.dependencies.common import ThreadSlot
from scheduler.messaging.queue import command_queue

pytestmark = pytest.mark.integration


@pytest.fixture
def queue_name():
    return f"test-probe-{uuid.uuid4().hex[:10]}"


def publish(url: str, name: str, count: int) -> None:
    queue = command_queue(name)
    with Connection(url, connect_timeout=5) as connection:
        producer = Producer(connection.channel())
        for i in range(count):
            producer.publish({"n": i}, exchange=queue.exchange, routing_key=name, declare=[queue], serializer="json")


def delete(url: str, name: str) -> None:
    queue = command_queue(name)
    with Connection(url, connect_timeout=5) as connection:
        channel = connection.channel()
        queue.bind(channel).delete()
        queue.exchange.bind(channel).delete()


@pytest.fixture
def rabbit_queue(rabbitmq_url, queue_name):
    yield queue_name
    delete(rabbitmq_url, queue_name)


def with_password(url: str, password: str, port: int | None = None) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username or 'guest'}:{password}@{parts.hostname}:{port or parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


async def probe(url, name, warn=-1, timeout=2.0, handlers=2, **kwargs):
    return await msg_queue.probe_msg_queue(url, name, handlers, warn, ThreadSlot("mq"), timeout, **kwargs)


async def test_25_messages_without_consumer_give_depth_25(rabbitmq_url, rabbit_queue):
    await asyncio.to_thread(publish, rabbitmq_url, rabbit_queue, 25)
    section = await probe(rabbitmq_url, rabbit_queue)
    assert section == {
        "OK": True,
        "detail": {
            "msg": "Message Queue is healthy",
            "queue_name": rabbit_queue,
            "num_message_handlers": 2,
            "queue_depth": 25,
            "region_name": "",
            "type": "amqp",
        },
        "errors": [],
        "warnings": [],
    }
    large = await probe(rabbitmq_url, rabbit_queue, warn=24)
    assert large["OK"] is True
    assert large["warnings"] == [{"LARGE_QUEUE": "Message queue is very large"}]
    assert large["detail"]["msg"] == "Message queue is large. Scale may be unresponsive."
    assert (await probe(rabbitmq_url, rabbit_queue, warn=25))["warnings"] == []


async def test_a_queue_nobody_declared_yet_is_empty_and_is_not_created(rabbitmq_url, queue_name):
    section = await probe(rabbitmq_url, queue_name)
    assert section["OK"] is True
    assert section["detail"]["queue_depth"] == 0
    # The passive declare created nothing: a second passive look still finds no queue.
    with Connection(rabbitmq_url) as connection:
        channel = connection.channel()
        with pytest.raises(Exception, match="NOT_FOUND"):
            command_queue(queue_name).bind(channel).queue_declare(passive=True)


async def test_memory_transport_depth(queue_name):
    await asyncio.to_thread(publish, "memory://", queue_name, 3)
    section = await probe("memory://", queue_name)
    assert section["OK"] is True
    assert section["detail"]["type"] == "memory"
    assert section["detail"]["queue_depth"] == 3


async def test_invalid_broker_url_is_reported_without_any_connection():
    section = await probe("bad_broker", "scale-command-messages", handlers=1)
    assert section == msg_queue.invalid_url("scale-command-messages", 1)


@pytest.mark.skipif(importlib.util.find_spec("boto3") is not None, reason="boto3 would try to reach AWS")
async def test_sqs_failure_is_sqs_error(all_logs):
    section = await probe("sqs://aws.com", "scale-command-messages")
    assert section["OK"] is False
    assert section["detail"]["type"] == "sqs"
    assert section["detail"]["region_name"] == "aws.com"
    assert section["errors"] == [{"SQS_ERROR": "Error connecting to SQS: Check Logs for details"}]


async def test_broker_goes_away_and_comes_back(rabbitmq_url, rabbit_queue, started):
    parts = urlsplit(rabbitmq_url)
    forwarder = await started(Forwarder(parts.hostname, parts.port))
    url = forwarder.url_for(rabbitmq_url)
    await asyncio.to_thread(publish, rabbitmq_url, rabbit_queue, 4)
    assert (await probe(url, rabbit_queue))["detail"]["queue_depth"] == 4

    await forwarder.cut()
    down = await probe(url, rabbit_queue)
    assert down["OK"] is False
    assert down["errors"] == [{"RABBITMQ_ERROR": "Error connecting to RabbitMQ: connection refused"}]
    assert down["detail"]["msg"] == "Unable to get message queue size."
    assert down["detail"]["queue_depth"] is None  # unknown, not 0 (4 messages wait)

    await forwarder.restore()
    up = await probe(url, rabbit_queue)
    assert up["OK"] is True
    assert up["detail"]["queue_depth"] == 4


async def test_a_broker_that_never_answers_times_out_at_the_client(rabbitmq_url, started):
    parts = urlsplit(rabbitmq_url)
    forwarder = await started(Forwarder(parts.hostname, parts.port))
    await forwarder.blackhole()
    begun = time.monotonic()
    section = await probe(forwarder.url_for(rabbitmq_url), "scale-command-messages", timeout=0.5)
    assert time.monotonic() - begun < 1.5
    assert section["errors"] == [{"RABBITMQ_ERROR": "Error connecting to RabbitMQ: timed out after 0.5 s"}]


async def test_wrong_password_is_access_refused_and_never_shown(rabbitmq_url, all_logs):
    url = with_password(rabbitmq_url, BROKER_PASSWORD)
    section = await probe(url, "scale-command-messages", secrets=[BROKER_PASSWORD])
    assert section["errors"] == [
        {"RABBITMQ_ERROR": "Error connecting to RabbitMQ: access refused (check the broker user and password)"}
    ]
    assert BROKER_PASSWORD not in repr(section) + all_logs.text


async def test_refused_broker_with_password_never_shows_it(all_logs):
    url = f"amqp://scale:{BROKER_PASSWORD}@127.0.0.1:{free_port()}//"
    section = await probe(url, "scale-command-messages", secrets=[BROKER_PASSWORD])
    assert section["errors"] == [{"RABBITMQ_ERROR": "Error connecting to RabbitMQ: connection refused"}]
    assert BROKER_PASSWORD not in repr(section) + all_logs.text


async def test_dead_letters_are_a_warning_and_a_metric(rabbitmq_url, rabbit_queue):
    from scheduler.api.queue_metrics import QueueMessagesCollector
    from scheduler.messaging.tally import TALLY, QueueTally

    dead = rabbit_queue + ".dead"
    try:
        await asyncio.to_thread(publish, rabbitmq_url, dead, 2)
        section = await probe(rabbitmq_url, rabbit_queue)
        assert section["OK"] is True and section["detail"]["queue_depth"] == 0
        assert section["warnings"] == [
            {"DEAD_LETTERS": f"2 rejected messages kept in {dead} (reasons in their x-scale-reject-reason header)"}
        ]
        assert TALLY.dead_letter_depth == 2
        tally = QueueTally(rejected_messages=3, dead_lettered_messages=3, dead_letter_depth=2)
        samples = {s.name: s.value for m in QueueMessagesCollector(tally).collect() for s in m.samples}
        assert samples == {
            "scale_scheduler_messages_rejected_total": 3,
            "scale_scheduler_messages_dead_lettered_total": 3,
            "scale_scheduler_dead_letter_queue_depth": 2,
        }
    finally:
        await asyncio.to_thread(delete, rabbitmq_url, dead)
