"""The operator commands end to end: apply-job-types, list-job-types, submit-jobs."""

from __future__ import annotations

import json

import pytest
from ingestkit import (
    free_port,
    make_settings,
    prepare_database,
    queue_depth,
    stored_jobs,
    wait_until,
)

from scheduler.commands.job_types import apply_job_types, list_job_types
from scheduler.commands.jobs import submit_jobs
from scheduler.store.database import make_engine
from scheduler.store.job_type_rows import load_job_types

pytestmark = pytest.mark.integration

TYPES_YAML = """
job_types:
  - name: ingest-file
    version: "1.0"
    title: Ingest a file
    resources: {cpus: 0.5, mem: 512}
    command: ingest --file "$FILE"
    error_mapping: {3: DATA}
  - name: ingest-file
    version: "1.1"
    command: ingest2
    is_system: true
    max_tries: 1
"""


def _job_types(database_url):
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return load_job_types(connection)
    finally:
        engine.dispose()


def test_apply_then_list_then_apply_again(database_url, tmp_path, capsys):
    settings = make_settings(database_url, "memory://", "unused")
    path = tmp_path / "types.yaml"
    path.write_text(TYPES_YAML)
    assert apply_job_types(settings, path) == 0
    out, err = capsys.readouterr()
    stored = _job_types(database_url)
    ids = {jt.version: jt.id for jt in stored}
    assert out.splitlines() == [
        f"created job type {ids['1.0']}: ingest-file 1.0",
        f"created job type {ids['1.1']}: ingest-file 1.1",
    ]
    assert err == ""

    assert list_job_types(settings) == 0
    out, _ = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].split() == [
        "ID",
        "NAME",
        "VERSION",
        "TITLE",
        "CPUS",
        "MEM",
        "DISK",
        "GPUS",
        "MAX",
        "TRIES",
        "SYSTEM",
    ]
    assert lines[1].split() == [
        str(ids["1.0"]),
        "ingest-file",
        "1.0",
        "Ingest",
        "a",
        "file",
        "0.5",
        "512",
        "0",
        "0",
        "3",
        "no",
    ]
    assert lines[2].split() == [str(ids["1.1"]), "ingest-file", "1.1", "1", "128", "0", "0", "1", "yes"]

    path.write_text(TYPES_YAML.replace("cpus: 0.5", "cpus: 2"))
    assert apply_job_types(settings, path) == 0
    out, _ = capsys.readouterr()
    assert out.splitlines()[0] == f"updated job type {ids['1.0']}: ingest-file 1.0"
    assert {jt.version: jt.cpus for jt in _job_types(database_url)} == {"1.0": 2.0, "1.1": 1.0}


def test_an_invalid_file_stores_nothing(tmp_path, capsys):
    database_url = f"sqlite:///{tmp_path}/db.sqlite"
    settings = make_settings(database_url, "memory://", "unused")
    path = tmp_path / "types.json"
    data = [
        {"name": "good", "version": "1", "command": "x"},
        {"name": "bad", "version": "1", "command": "x", "resources": {"cpus": 0, "gpus": 1.5}},
        {"name": "good", "version": "1", "command": "y"},
    ]
    path.write_text(json.dumps({"job_types": data}))
    assert apply_job_types(settings, path) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"{path}: job_types[1].resources.cpus: must be greater than 0, got 0",
        f"{path}: job_types[1].resources.gpus: must be a whole number, got 1.5",
        f"{path}: job_types[2]: duplicate of job_types[0] (name 'good', version '1')",
        f"{path}: 3 problems; no job type was stored",
    ]
    assert list_job_types(settings) == 0  # no schema, no rows: nothing was written
    assert capsys.readouterr().out == "no job types registered\n"


def test_foreseeable_failures_are_one_line(tmp_path, capsys):
    settings = make_settings(f"sqlite:///{tmp_path}/db.sqlite", "memory://", "unused")
    assert apply_job_types(settings, tmp_path / "nowhere.yaml") == 2
    _, err = capsys.readouterr()
    assert (
        err
        == f"{tmp_path / 'nowhere.yaml'}: no such file\n{tmp_path / 'nowhere.yaml'}: 1 problem; no job type was stored\n"
    )

    # The database is down: one line, password masked, exit code 1.
    down = make_settings(f"postgresql://scale:s3cret-pw@127.0.0.1:{free_port()}/scale", "memory://", "unused")
    (tmp_path / "types.yaml").write_text(TYPES_YAML)
    for run in (lambda: apply_job_types(down, tmp_path / "types.yaml"), lambda: list_job_types(down)):
        assert run() == 1
        out, err = capsys.readouterr()
        assert out == "" and len(err.splitlines()) == 1, err
        assert (
            err.startswith("scale-scheduler: database postgresql://scale:****@127.0.0.1:")
            and "Connection refused" in err
        )
        assert "s3cret-pw" not in err and "Traceback" not in err


def test_submit_jobs_end_to_end(tmp_path, rabbitmq_url, queue_name, capsys, start_handler):
    database_url = f"sqlite:///{tmp_path}/db.sqlite"
    settings = make_settings(database_url, rabbitmq_url, queue_name)
    (tmp_path / "types.yaml").write_text(TYPES_YAML)
    assert apply_job_types(settings, tmp_path / "types.yaml") == 0
    capsys.readouterr()

    assert submit_jobs(settings, "ingest-file", "1.0", count=3, priority=5, inputs='{"file": "a.tif"}') == 0
    out, err = capsys.readouterr()
    message_id = out.strip()
    assert len(message_id) == 32 and err.startswith("published 3 jobs of ingest-file 1.0 to ")
    assert submit_jobs(settings, "ingest-file", "1.1") == 0
    second_id = capsys.readouterr().out.strip()
    assert queue_depth(rabbitmq_url, queue_name) == 2  # one message per submit

    handler = start_handler(settings)
    wait_until(lambda: handler.counters["stored_messages"] == 2, what="both messages stored")
    jobs = stored_jobs(database_url)
    ids = {jt.version: jt.id for jt in _job_types(database_url)}
    assert [(j["job_type_id"], j["priority"], j["message_id"]) for j in jobs] == [
        (ids["1.0"], 5, message_id),
        (ids["1.0"], 5, message_id),
        (ids["1.0"], 5, message_id),
        (ids["1.1"], 100, second_id),
    ]
    assert [json.loads(j["inputs"]) if j["inputs"] else None for j in jobs] == [{"file": "a.tif"}] * 3 + [None]


def test_submit_jobs_refusals(tmp_path, rabbitmq_url, queue_name, capsys):
    database_url = f"sqlite:///{tmp_path}/db.sqlite"
    settings = make_settings(database_url, rabbitmq_url, queue_name)
    assert submit_jobs(settings, "alpha", "1.0") == 2
    assert capsys.readouterr().err == (
        "scale-scheduler: the database holds no job types yet; register job types first\n"
    )
    prepare_database(database_url)
    assert submit_jobs(settings, "alpha", "3.0") == 2
    assert capsys.readouterr().err == (
        "scale-scheduler: job type alpha 3.0 is not registered (registered versions of alpha: 1.0)\n"
    )
    assert submit_jobs(settings, "alpha", "1.0", count=0) == 2
    assert "count: must be a whole number from 1 to 10000, got 0" in capsys.readouterr().err
    assert submit_jobs(settings, "alpha", "1.0", inputs="[1]") == 2
    assert capsys.readouterr().err == "scale-scheduler: --inputs: must be a JSON object\n"
    assert queue_depth(rabbitmq_url, queue_name) is None  # nothing was published

    broker_down = make_settings(database_url, f"amqp://guest:br0ker-pw@127.0.0.1:{free_port()}//", queue_name)
    assert submit_jobs(broker_down, "alpha", "1.0") == 1
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1
    assert err.startswith("scale-scheduler: cannot connect to amqp://guest:****@127.0.0.1:") and "refused" in err
    assert "br0ker-pw" not in err and "Traceback" not in err


def test_submit_over_memory_transport(tmp_path, capsys, start_handler):
    database_url = f"sqlite:///{tmp_path}/db.sqlite"
    prepare_database(database_url)
    settings = make_settings(database_url, "memory://", "memory-submit-queue")
    # From a CLI process a memory:// message would vanish with the process: refused by default.
    assert submit_jobs(settings, "beta", "2.1") == 2
    assert "SCALE_BROKER_URL is memory://, which reaches no scheduler outside this process" in capsys.readouterr().err
    assert queue_depth("memory://", "memory-submit-queue") is None

    assert submit_jobs(settings, "beta", "2.1", count=2, allow_memory=True) == 0
    message_id = capsys.readouterr().out.strip()
    handler = start_handler(settings)
    wait_until(lambda: handler.counters["stored_jobs"] == 2, what="the jobs stored")
    assert [j["message_id"] for j in stored_jobs(database_url)] == [message_id] * 2
