"""Hostile job type files: NUL and control characters, option-like images, huge commands, content
that must not be echoed, and random bytes that must never end in a traceback."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.jobs.definition_files import (
    MAX_FILE_BYTES,
    DefinitionError,
    load_job_type_file,
    parse_job_types,
)


def problems_of(text: str) -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        parse_job_types(text)
    return caught.value.problems


def job(**fields) -> str:
    return json.dumps([{"name": "a", "version": "1", "command": "run", **fields}])


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"version": "1\x00"}, "job_types[0].version: must not contain the control character U+0000"),
        ({"title": "T\x1b[2J"}, "job_types[0].title: must not contain the control character U+001B"),
        ({"command": "run\x00 --x"}, "job_types[0].command: must not contain the control character U+0000"),
        ({"description": "a\rb"}, "job_types[0].description: must not contain the control character U+000D"),
        ({"image": "--privileged"}, "job_types[0].image: must be a Docker image reference"),
        ({"image": "-v/:/host"}, "job_types[0].image: must be a Docker image reference"),
        ({"image": "Upper/Case"}, "job_types[0].image: must be a Docker image reference"),
        ({"image": "repo:tag:other"}, "job_types[0].image: must be a Docker image reference"),
        ({"command": "x" * (64 * 1024 + 1)}, "job_types[0].command: must be at most 65536 characters"),
        ({"max_tries": 10**30}, "job_types[0].max_tries: must be at most 100"),
        ({"resources": {"mem": 10**400}}, "job_types[0].resources.mem: must be a number"),
    ],
)
def test_hostile_fields_are_refused(fields, expected):
    problems = problems_of(job(**fields))
    assert any(p.startswith(expected) for p in problems), problems
    assert all(p.isprintable() for p in problems)


@pytest.mark.parametrize(
    "image",
    [
        "alpine",
        "alpine:3.19",
        "library/alpine",
        "registry.example.com:5000/team/my-algorithm:1.0",
        "localhost:5000/a_b__c/d-e",
        "ghcr.io/org/img@sha256:" + "a" * 64,
        "img:tag@sha256:" + "b" * 64,
    ],
)
def test_docker_references_are_accepted(image):
    (job_type,) = parse_job_types(job(image=image))
    assert job_type.image == image


def test_multi_line_commands_and_descriptions_are_fine():
    (job_type,) = parse_job_types(job(command="set -e\n\trun --in /data\n", description="line 1\nline 2"))
    assert job_type.command.startswith("set -e\n")


SECRET = "hunter2-S3CRET-line"


@pytest.mark.parametrize(
    "text",
    [
        f"root:{SECRET}:19000:0:99999:7:::\nbin:*:19000\n  - [\n",  # a shadow file, broken YAML
        f'[{{"name": "{SECRET}",,}}]',  # broken JSON
        f"- !{SECRET} value\n",  # a tag PyYAML names in its message
        f"- *{SECRET}\n",  # an undefined alias PyYAML names in its message
        f'key: "\\q{SECRET}"\n',  # a bad escape
    ],
)
def test_a_syntax_error_never_quotes_the_file(text):
    problems = problems_of(text)
    assert problems and all(SECRET not in p and "S3CRET" not in p for p in problems), problems


def test_a_file_over_the_size_cap_is_refused_unread(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    with pytest.raises(DefinitionError) as caught:
        load_job_type_file(path)
    assert caught.value.problems == [f"is larger than {MAX_FILE_BYTES} bytes"]


def test_deep_nesting_is_a_problem_not_a_crash():
    for text in ("[" * 100_000, "- " * 50_000 + "x", "{a: " * 50_000):
        assert problems_of(text)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_random_bytes_give_problems_never_a_traceback(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("h") / "types.yaml"
    path.write_bytes(data)
    try:
        load_job_type_file(path)
    except DefinitionError as exc:
        assert exc.problems and all(p.isprintable() for p in exc.problems)


YAMLISH = st.text(alphabet=st.sampled_from(list("-:[]{}!&*?|>'\"#%@`,\n abc1.\\\x00\x1b\t")), max_size=200)


@settings(max_examples=400, deadline=None)
@given(YAMLISH)
def test_random_yaml_like_text_gives_problems_never_a_traceback(text):
    try:
        parse_job_types(text)
    except DefinitionError as exc:
        assert exc.problems and all(p.isprintable() for p in exc.problems)
