"""The daemon's log lines: one line per record, control characters escaped, secrets masked."""

from __future__ import annotations

import io
import logging
import sys

import pytest

from scheduler.logs import escape_control, setup_logging


@pytest.fixture
def stderr_log(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    setup_logging("INFO", ["S3c@ret", "S3c%40ret"])
    yield stream
    root.handlers[:], level = saved
    root.setLevel(level)


def test_untrusted_strings_cannot_forge_lines_or_escape_the_terminal(stderr_log):
    log = logging.getLogger("scheduler.test")
    forged = "ok\n2026-01-01 00:00:00,000 ERROR   scheduler.daemon: forged line\r\x1b[2J\u202e"
    log.warning("rejected message %s: %s", forged, "job type \x00name")
    log.info(forged)
    lines = stderr_log.getvalue().splitlines()
    assert len(lines) == 2
    assert "forged line" in lines[0] and "\\n2026-01-01" in lines[0]
    assert "\\r\\x1b[2J\\u202e" in lines[0] and "\\x00name" in lines[0]
    assert "\x1b" not in stderr_log.getvalue() and "\x00" not in stderr_log.getvalue()


def test_a_traceback_keeps_its_lines_but_escapes_the_rest(stderr_log):
    log = logging.getLogger("scheduler.test")
    try:
        raise ValueError("bad \x1b[31mvalue with password S3c@ret\n2026-01-01 00:00:00,000 ERROR   forged: line")
    except ValueError:
        log.exception("failed")
    text = stderr_log.getvalue()
    assert text.count("\n") > 2 and "Traceback" in text
    assert "\x1b" not in text and "\\x1b[31m" in text
    assert "S3c@ret" not in text
    first, *rest = text.rstrip("\n").split("\n")
    assert first.endswith("failed") and all(line.startswith("  | ") for line in rest)  # nothing passes for a record


def test_lone_surrogates_do_not_break_the_log(stderr_log):
    logging.getLogger("scheduler.test").warning("id %s", "a\ud800b")
    assert "a\\ud800b" in stderr_log.getvalue()


def test_escape_control():
    assert escape_control("a\tb\nc") == "a\tb\\nc"
    assert escape_control("a\nb\x07", keep_newlines=True) == "a\nb\\x07"


def test_every_url_settings_password_is_masked_in_both_forms(monkeypatch):
    from scheduler.config import load_settings

    settings = load_settings(
        {
            "MESOS_MASTER_URL": "http://ops:M4ster%40pw@master:5050",
            "SILO_URL": "http://silo:Si1o%3Apw@silo:9000",
            "LOGGING_ADDRESS": "tcp://log:L0g%2Fpw@fluentd:24224",
            "LOGGING_HEALTH_ADDRESS": "http://log:Hea1th%40pw@fluentd:24220",
            "ELASTICSEARCH_URL": "http://elastic:E1astic%40pw@es:9200",
            "DATABASE_URL": "postgresql://scale:S3c%40ret@db/scale",
            "SCALE_BROKER_URL": "amqp://u:p@ss@word@rabbit//",
        }
    )
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging("INFO", settings.secret_values())
        log = logging.getLogger("scheduler.test")
        for password in ("M4ster@pw", "Si1o:pw", "L0g/pw", "Hea1th@pw", "E1astic@pw", "S3c@ret", "p@ss@word"):
            log.warning("the server said: password %s refused", password)
        log.warning("urls: %s", [settings.mesos_master_url, settings.silo_url, settings.logging_address])
        log.warning("urls: %s %s", settings.logging_health_address, settings.database_url)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    text = stream.getvalue()
    for secret in ("M4ster", "Si1o", "L0g", "Hea1th", "E1astic", "S3c", "p@ss", "ss@word", "word@rabbit"):
        assert secret not in text, (secret, text)
    assert text.count("****") >= 12
