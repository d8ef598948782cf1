"""Fixtures for the ingest tests: a unique RabbitMQ queue per test (deleted afterwards), handlers."""

from __future__ import annotations

import uuid

import pytest
from ingestkit import delete_queue

from scheduler.messaging.handler import MessageHandler


@pytest.fixture
def queue_name(rabbitmq_url):
    """A queue of this test's own on the real RabbitMQ, deleted (with its exchange) at the end."""
    name = f"test-{uuid.uuid4().hex}"
    yield name
    delete_queue(rabbitmq_url, name)
    delete_queue(rabbitmq_url, name + ".dead")


@pytest.fixture
def start_handler():
    """Start MessageHandlers with short backoffs; every one is stopped at the end of the test."""
    handlers: list[MessageHandler] = []

    def start(settings, **options) -> MessageHandler:
        options = {"backoff_start_s": 0.2, "backoff_max_s": 1.0, "drain_timeout_s": 0.2, **options}
        handler = MessageHandler(settings, **options)
        handler.start()
        handlers.append(handler)
        return handler

    yield start
    for handler in handlers:
        assert handler.stop(timeout=10), "a message handler did not stop"
