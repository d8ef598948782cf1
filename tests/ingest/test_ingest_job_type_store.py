"""Job types in the database (SQLite and PostgreSQL): insert, update in place, load, look up."""

from __future__ import annotations

import json

import pytest
import sqlalchemy

from scheduler.jobs.definitions import ErrorCategory, JobType
from scheduler.store.database import make_engine, migrate
from scheduler.store.job_type_rows import (
    find_job_type,
    job_type_ids,
    job_type_versions,
    load_job_types,
    upsert_job_types,
)
from scheduler.store.tables import job_type_table

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


ALPHA = JobType(
    name="alpha",
    version="1.0",
    command="run-alpha",
    cpus=2.0,
    mem=1024.0,
    disk=10.0,
    gpus=1.0,
    title="Alpha",
    description="first",
    icon_code="f1",
    image="alpha:1",
    max_tries=4,
    error_mapping={1: ErrorCategory.DATA, 42: ErrorCategory.ALGORITHM},
)
BETA = JobType(name="beta", version="1.0", command="run-beta")


def test_insert_then_load(engine):
    with engine.begin() as connection:
        stored = upsert_job_types(connection, [ALPHA, BETA])
    assert [jt.id for jt in stored] == [stored[0].id, stored[1].id] and stored[0].id != stored[1].id
    assert all(isinstance(jt.id, int) for jt in stored)
    with engine.connect() as connection:
        loaded = load_job_types(connection)
    assert loaded == stored
    by_name = {jt.name: jt for jt in loaded}
    assert by_name["alpha"].error_mapping == {1: ErrorCategory.DATA, 42: ErrorCategory.ALGORITHM}
    assert all(isinstance(c, ErrorCategory) for c in by_name["alpha"].error_mapping.values())
    assert by_name["alpha"].category_for_exit(1) is ErrorCategory.DATA
    assert by_name["beta"].error_mapping == {} and by_name["beta"].image is None
    with engine.connect() as connection:
        raw = connection.execute(
            sqlalchemy.select(job_type_table.c.error_mapping).where(job_type_table.c.name == "alpha")
        )
        assert json.loads(raw.scalar_one()) == {"1": "DATA", "42": "ALGORITHM"}


def test_update_keeps_the_id_and_created(engine):
    with engine.begin() as connection:
        (first,) = upsert_job_types(connection, [ALPHA])
    with engine.connect() as connection:
        created = connection.execute(sqlalchemy.select(job_type_table.c.created)).scalar_one()
    changed = JobType(name="alpha", version="1.0", command="run-alpha --v2", cpus=0.5, mem=64.0, max_tries=1)
    with engine.begin() as connection:
        (second, new) = upsert_job_types(connection, [changed, JobType(name="alpha", version="2.0", command="x")])
    assert second.id == first.id and new.id != first.id
    with engine.connect() as connection:
        (loaded,) = [jt for jt in load_job_types(connection) if jt.version == "1.0"]
        row = connection.execute(sqlalchemy.select(job_type_table).where(job_type_table.c.id == first.id)).one()
        count = connection.execute(sqlalchemy.select(sqlalchemy.func.count()).select_from(job_type_table)).scalar()
    assert count == 2
    assert loaded == JobType(
        name="alpha", version="1.0", command="run-alpha --v2", cpus=0.5, mem=64.0, max_tries=1, id=first.id
    )
    assert loaded.error_mapping == {} and loaded.image is None and loaded.title == ""
    assert row.created == created and row.last_modified >= row.created


def test_inactive_job_types_are_hidden_and_reactivated(engine):
    with engine.begin() as connection:
        alpha, beta = upsert_job_types(connection, [ALPHA, BETA])
        connection.execute(
            sqlalchemy.update(job_type_table).where(job_type_table.c.id == beta.id).values(is_active=False)
        )
    with engine.connect() as connection:
        assert [jt.name for jt in load_job_types(connection)] == ["alpha"]
        assert [jt.name for jt in load_job_types(connection, active_only=False)] == ["alpha", "beta"]
        assert find_job_type(connection, "beta", "1.0") is None
        assert find_job_type(connection, "beta", "1.0", active_only=False).id == beta.id
        assert job_type_ids(connection, [("alpha", "1.0"), ("beta", "1.0"), ("gamma", "1")]) == {
            ("alpha", "1.0"): alpha.id
        }
    with engine.begin() as connection:
        (again,) = upsert_job_types(connection, [BETA])
    assert again.id == beta.id
    with engine.connect() as connection:
        assert [jt.name for jt in load_job_types(connection)] == ["alpha", "beta"]


def test_lookups(engine):
    many = [JobType(name=f"job-{i:03d}", version=f"{i % 3}.0", command="x") for i in range(250)]
    with engine.begin() as connection:
        stored = upsert_job_types(connection, many + [JobType(name="job-000", version="9.9", command="x")])
    with engine.connect() as connection:
        ids = job_type_ids(connection, [(jt.name, jt.version) for jt in stored])
        assert ids == {(jt.name, jt.version): jt.id for jt in stored}
        assert job_type_versions(connection, "job-000") == ["0.0", "9.9"]
        assert job_type_versions(connection, "nothing") == []
        found = find_job_type(connection, "job-007", "1.0")
        assert found is not None and found.id == ids[("job-007", "1.0")]
        assert find_job_type(connection, "job-007", "2.0") is None
