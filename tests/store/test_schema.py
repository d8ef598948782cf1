"""The migrations build exactly the schema the tables describe, on SQLite and PostgreSQL."""

import pytest
from sqlalchemy import inspect

from scheduler.store.database import Database
from scheduler.store.tables import metadata

pytestmark = pytest.mark.integration


async def test_migrated_schema_matches_the_tables(database_url):
    database = Database(database_url)
    await database.migrate()

    def describe(connection):
        inspector = inspect(connection)
        return {
            table: {column["name"] for column in inspector.get_columns(table)}
            for table in inspector.get_table_names()
            if table != "alembic_version"
        }

    tables = await database.run(describe)
    expected = {table.name: {column.name for column in table.columns} for table in metadata.sorted_tables}
    assert tables == expected
    await database.close()
