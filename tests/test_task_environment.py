"""The environment of system tasks: credentials by reference, by file path, or without the password."""

from __future__ import annotations

import pytest

from scheduler.config import load_settings
from scheduler.task_environment import system_task_environment, without_password


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://scale:S3c%40ret@db:5432/scale", "postgresql://scale@db:5432/scale"),
        ("amqp://u:p@ss@h:5672//", "amqp://u@h:5672//"),
        ("amqp://guest@h//", "amqp://guest@h//"),
        ("memory://", "memory://"),
        ("sqlite:///var/x.db", "sqlite:///var/x.db"),
    ],
)
def test_without_password(url, expected):
    assert without_password(url) == expected


def test_plain_settings_pass_and_credentials_do_not(tmp_path):
    settings = load_settings(
        {
            "DATABASE_URL": "postgresql://scale:pw1234@db/scale",
            "SCALE_BROKER_URL": "amqps://scale:pw5678@rabbit//",
            "CA_FILE": "/etc/ssl/scale-ca.pem",
            "MESSAGE_MAX_BYTES": "1000",
        }
    )
    environment = system_task_environment(settings)
    assert environment == {
        "DATABASE_URL": "postgresql://scale@db/scale",
        "SCALE_BROKER_URL": "amqps://scale@rabbit//",
        "SCALE_QUEUE_NAME": "scale-command-messages",
        "LOG_LEVEL": "INFO",
        "MESSAGE_MAX_BYTES": "1000",
        "MESSAGE_MAX_DELIVERIES": "20",
        "CA_FILE": "/etc/ssl/scale-ca.pem",
    }


def test_a_secret_reference_with_a_docker_image_is_warned_about(caplog):
    settings = load_settings(
        {"DATABASE_URL_SECRET_REF": "/scale/db", "SCALE_DOCKER_IMAGE": "registry.example.com/scale:1"}
    )
    environment = system_task_environment(settings)
    assert environment["DATABASE_URL"]["type"] == "SECRET"
    assert any("Mesos containerizer only" in r.getMessage() for r in caplog.records)
