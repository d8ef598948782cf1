"""The framework id survives a restart: stored in the scheduler row on SQLite and PostgreSQL."""

import pytest

from scheduler.store.database import Database
from scheduler.store.scheduler_row import DatabaseFrameworkIdStore

pytestmark = pytest.mark.integration


async def test_framework_id_persists_across_database_handles(database_url):
    first = Database(database_url)
    await first.migrate()
    store = DatabaseFrameworkIdStore(first)
    assert await store.load_framework_id() is None
    await store.save_framework_id("fw-0001")
    await first.close()

    # A new process would build a new engine: the id is read back from the database itself.
    second = Database(database_url)
    await second.migrate()  # migrating twice is harmless
    assert await DatabaseFrameworkIdStore(second).load_framework_id() == "fw-0001"
    await DatabaseFrameworkIdStore(second).save_framework_id(None)
    assert await DatabaseFrameworkIdStore(second).load_framework_id() is None
    await second.close()


async def test_database_run_times_out_instead_of_hanging(tmp_path):
    import time

    database = Database(f"sqlite:///{tmp_path}/x.db")
    with pytest.raises(TimeoutError):
        await database.run(lambda connection: time.sleep(2), timeout_s=0.2)
    await database.close()
