"""Job type definition files: YAML and JSON parse alike; every problem is reported with its place."""

from __future__ import annotations

import json

import pytest

from scheduler.jobs.definition_files import DefinitionError, load_job_type_file, parse_job_types
from scheduler.jobs.definitions import ErrorCategory, JobType

VALID_YAML = """
job_types:
  - name: my-algorithm
    version: "1.0"
    title: My algorithm
    description: Finds things
    is_system: false
    icon_code: f1c5
    resources: {cpus: 1.5, mem: 2048, disk: 1024, gpus: 1}
    command: run-algorithm --in /data
    image: registry.example.com/my-algorithm:1.0
    max_tries: 5
    error_mapping:
      2: DATA
      3: ALGORITHM
  - name: tiny.job_v2
    version: "2"
    command: "true"
"""

EXPECTED = [
    JobType(
        name="my-algorithm",
        version="1.0",
        title="My algorithm",
        description="Finds things",
        is_system=False,
        icon_code="f1c5",
        cpus=1.5,
        mem=2048.0,
        disk=1024.0,
        gpus=1.0,
        command="run-algorithm --in /data",
        image="registry.example.com/my-algorithm:1.0",
        max_tries=5,
        error_mapping={2: ErrorCategory.DATA, 3: ErrorCategory.ALGORITHM},
    ),
    JobType(name="tiny.job_v2", version="2", command="true"),
]


def _as_json_data():
    return [
        {
            "name": "my-algorithm",
            "version": "1.0",
            "title": "My algorithm",
            "description": "Finds things",
            "is_system": False,
            "icon_code": "f1c5",
            "resources": {"cpus": 1.5, "mem": 2048, "disk": 1024, "gpus": 1},
            "command": "run-algorithm --in /data",
            "image": "registry.example.com/my-algorithm:1.0",
            "max_tries": 5,
            "error_mapping": {"2": "DATA", "3": "ALGORITHM"},
        },
        {"name": "tiny.job_v2", "version": "2", "command": "true"},
    ]


def _problems(text: str) -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        parse_job_types(text)
    return caught.value.problems


def test_valid_yaml_parses_to_job_types():
    job_types = parse_job_types(VALID_YAML)
    assert job_types == EXPECTED
    # compare=False on error_mapping: check it on its own.
    assert job_types[0].error_mapping == {2: ErrorCategory.DATA, 3: ErrorCategory.ALGORITHM}
    assert job_types[1].error_mapping == {}
    assert all(jt.id is None for jt in job_types)


@pytest.mark.parametrize("wrapped", [False, True])
def test_valid_json_parses_like_yaml(wrapped):
    data = _as_json_data()
    text = json.dumps({"job_types": data} if wrapped else data, indent=2)
    job_types = parse_job_types(text)
    assert job_types == EXPECTED
    assert [jt.error_mapping for jt in job_types] == [jt.error_mapping for jt in EXPECTED]


def test_defaults_when_optional_fields_are_absent():
    (job_type,) = parse_job_types('- {name: a, version: "1", command: x}')
    assert (job_type.cpus, job_type.mem, job_type.disk, job_type.gpus) == (1.0, 128.0, 0.0, 0.0)
    assert job_type.max_tries == 3 and job_type.is_system is False and job_type.image is None
    assert (job_type.title, job_type.description, job_type.icon_code) == ("", "", "")


def test_every_problem_is_reported_with_its_place():
    text = """
job_types:
  - name: ok
    version: "1"
    command: x
    resources: {cpus: 0, mem: -1, disk: -5, gpus: 0.5, ram: 3}
  - name: Bad_Name
    version: 1.0
    command: ""
    max_tries: 0
    is_system: "yes"
    colour: blue
  - version: "1"
    command: x
    error_mapping: {0: DATA, 256: DATA, abc: DATA, 7: SYSTEM, 8: ALGORITHM}
  - name: ok
    version: "1"
    command: y
  - 42
"""
    problems = _problems(text)
    expected = {
        "job_types[0].resources.cpus: must be greater than 0, got 0",
        "job_types[0].resources.mem: must be at least 0, got -1",
        "job_types[0].resources.disk: must be at least 0, got -5",
        "job_types[0].resources.gpus: must be a whole number, got 0.5",
        "job_types[0].resources.ram: unknown resource (known: cpus, mem, disk, gpus)",
        "job_types[1].name: 'Bad_Name' must start with a lower-case letter or digit and hold only a-z, 0-9, '.', '_', '-'",
        "job_types[1].command: must not be empty",
        "job_types[1].max_tries: must be at least 1, got 0",
        "job_types[1].is_system: must be true or false, got a string",
        "job_types[1].colour: unknown key",
        "job_types[2].name: is required",
        "job_types[2].error_mapping.0: exit code must be from 1 to 255, got 0",
        "job_types[2].error_mapping.256: exit code must be from 1 to 255, got 256",
        "job_types[2].error_mapping.abc: exit code must be a whole number from 1 to 255",
        "job_types[2].error_mapping.7: must be DATA or ALGORITHM, got 'SYSTEM'",
        "job_types[3]: duplicate of job_types[0] (name 'ok', version '1')",
        "job_types[4]: must be a mapping, got a number (42)",
    }
    assert expected <= set(problems), sorted(expected - set(problems))
    version = [p for p in problems if p.startswith("job_types[1].version")]
    assert len(version) == 1 and "must be a string, got a number (1.0)" in version[0] and "quote" in version[0]
    assert len(problems) == len(expected) + 1, problems


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[{"name": "a", "version": 2, "command": "x"}]', "job_types[0].version: must be a string, got a number (2)"),
        ('[{"name": "a", "version": "1", "command": ["x"]}]', "job_types[0].command: must be a string, got a list"),
        ('[{"name": "a", "version": "1"}]', "job_types[0].command: is required"),
        (
            '[{"name": "a", "version": "1", "command": "x", "resources": {"cpus": true}}]',
            "job_types[0].resources.cpus: must be a number, got a boolean (true)",
        ),
        (
            '[{"name": "a", "version": "1", "command": "x", "resources": [1]}]',
            "job_types[0].resources: must be a mapping of cpus, mem, disk, gpus, got a list",
        ),
        (
            '[{"name": "a", "version": "1", "command": "x", "max_tries": 2.5}]',
            "job_types[0].max_tries: must be a whole number, got a number (2.5)",
        ),
        (
            '[{"name": "a", "version": "1", "command": "x", "image": "has space"}]',
            "job_types[0].image: must be a docker image name without spaces, got 'has space'",
        ),
        (
            '[{"name": "a", "version": "1", "command": "x", "icon_code": "' + "x" * 21 + '"}]',
            "job_types[0].icon_code: must be at most 20 characters, got 21",
        ),
        (
            '[{"name": "' + "a" * 101 + '", "version": "1", "command": "x"}]',
            "job_types[0].name: must be at most 100 characters, got 101",
        ),
        (
            '[{"name": "a", "version": "' + "1" * 51 + '", "command": "x"}]',
            "job_types[0].version: must be at most 50 characters, got 51",
        ),
        (
            '[{"name": "a", "version": " 1", "command": "x"}]',
            "job_types[0].version: must not start or end with spaces, got ' 1'",
        ),
        (
            '[{"name": "a", "version": "1", "command": "x", "error_mapping": {"1": "DATA"}, "resources": {"cpus": NaN}}]',
            "not valid JSON: NaN is not a number JSON allows",
        ),
        ("[]", "job_types: the file holds no job types"),
        ('{"types": []}', "types: unknown key (a file holds a list of job types or {job_types: [...]})"),
        ('{"job_types": {"name": "a"}}', "job_types: must be a list of job types, got a mapping"),
        ("just text", "job_types: must be a list of job types, got a string"),
        ("", "job_types: must be a list of job types, got null"),
    ],
)
def test_single_problems(text, expected):
    problems = _problems(text)
    assert any(p == expected or p.startswith(expected + "; ") for p in problems), problems


def test_yaml_syntax_error_has_its_line():
    (problem,) = _problems("job_types:\n  - name: a\n    version: '1\n    command: x\n")
    assert problem.startswith("not valid YAML at line ")


def test_json_syntax_error_has_its_place():
    (problem,) = _problems('[{"name": "a",, }]')
    assert problem.startswith("not valid JSON: ") and "line 1 column" in problem


@pytest.mark.parametrize(
    "text",
    [
        '- {name: a, version: "1", command: x, command: y}',
        '[{"name": "a", "version": "1", "command": "x", "command": "y"}]',
    ],
)
def test_a_key_given_twice_is_refused(text):
    (problem,) = _problems(text)
    assert "duplicate key 'command'" in problem


def test_load_file_reads_yaml_and_json_by_content(tmp_path):
    (tmp_path / "types.yaml").write_text(VALID_YAML)
    (tmp_path / "types.txt").write_text(json.dumps(_as_json_data()))
    assert load_job_type_file(tmp_path / "types.yaml") == EXPECTED
    assert load_job_type_file(tmp_path / "types.txt") == EXPECTED


def test_load_file_problems_name_the_file(tmp_path):
    with pytest.raises(DefinitionError) as caught:
        load_job_type_file(tmp_path / "missing.yaml")
    assert caught.value.problems == ["no such file"] and caught.value.source.endswith("missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text('- {name: a, version: "1", command: x, resources: {cpus: -1}}\n')
    with pytest.raises(DefinitionError) as caught:
        load_job_type_file(bad)
    assert str(caught.value) == f"{bad}: job_types[0].resources.cpus: must be greater than 0, got -1"


def test_yaml_anchors_and_merge_keys_work():
    text = """
- &base {name: shared, version: "1", command: run, resources: {cpus: 2}}
- <<: *base
  version: "2"
"""
    first, second = parse_job_types(text)
    assert (first.version, second.version) == ("1", "2")
    assert second.command == "run" and second.cpus == 2.0
