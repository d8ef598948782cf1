"""The change log: which keys changed after a stamp, read from its tail."""

from __future__ import annotations

from scheduler.change_log import ChangeLog


def test_the_keys_changed_after_a_stamp_are_listed_once_each_latest_first():
    log = ChangeLog()
    assert log.since(0) == [] and log.version("a") == 0
    log.touch("a")
    log.touch("b")
    seen = log.stamp
    log.touch("c")
    log.touch("a")  # again: moves to the end, listed once
    assert log.since(seen) == ["a", "c"]
    assert log.since(0) == ["a", "c", "b"]
    assert log.since(log.stamp) == []
    assert log.version("a") == log.stamp and log.version("b") == seen


def test_a_version_is_never_given_twice():
    log = ChangeLog()
    versions = set()
    for key in ["x", "y", "x", "x", "z", "y"]:
        log.touch(key)
        versions.add(log.version(key))
    assert len(versions) == 6
