"""The migrations build exactly the schema the tables describe, on SQLite and PostgreSQL: the same
tables and columns, column types and nullability, primary keys, foreign keys, unique constraints
and indexes."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, String, inspect

from scheduler.store.database import Database
from scheduler.store.tables import metadata

pytestmark = pytest.mark.integration


def keys_of_tables(tables: MetaData = metadata) -> dict:
    """Primary and foreign keys as the tables declare them."""
    return {
        table.name: {
            "primary_key": sorted(column.name for column in table.primary_key.columns),
            "foreign_keys": sorted((fk.parent.name, fk.column.table.name, fk.column.name) for fk in table.foreign_keys),
        }
        for table in tables.sorted_tables
    }


def keys_of_database(connection) -> dict:
    inspector = inspect(connection)
    return {
        table: {
            "primary_key": sorted(inspector.get_pk_constraint(table)["constrained_columns"]),
            "foreign_keys": sorted(
                (column, fk["referred_table"], referred)
                for fk in inspector.get_foreign_keys(table)
                for column, referred in zip(fk["constrained_columns"], fk["referred_columns"], strict=True)
            ),
        }
        for table in inspector.get_table_names()
        if table != "alembic_version"
    }


def differences(connection, tables: MetaData = metadata) -> list:
    """Alembic's comparison of the live schema with the tables: tables, columns, types, nullability,
    unique constraints, indexes and foreign keys (what ``alembic revision --autogenerate`` would fix)."""
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, tables)


async def test_migrated_schema_matches_the_tables(database_url):
    database = Database(database_url)
    try:
        await database.migrate()
        assert await database.run(differences) == []
        assert await database.run(keys_of_database) == keys_of_tables()
    finally:
        await database.close()


async def test_the_comparison_sees_each_kind_of_difference(database_url):
    """The comparison can fail: tables that differ from the migrated schema in a type, a
    nullability, an index or a foreign key are reported as different."""
    changed = MetaData()
    for table in metadata.sorted_tables:
        table.to_metadata(changed)
    node, job_exe = changed.tables["node"], changed.tables["job_exe"]
    node.c.hostname.type = String(100)  # 250 in the migration
    node.c.agent_id.nullable = False
    job_exe.indexes.remove(next(index for index in job_exe.indexes if index.name == "ix_job_exe_ended"))
    job_exe.c.node_id.foreign_keys.clear()
    job_exe.foreign_keys.difference_update({fk for fk in job_exe.foreign_keys if fk.parent.name == "node_id"})
    database = Database(database_url)
    try:
        await database.migrate()
        found = await database.run(lambda connection: differences(connection, changed))
        # Column changes come as a list of (kind, ...) per column; the others as one (kind, ...) each.
        kinds = {change[0] for item in found for change in (item if isinstance(item, list) else [item])}
        assert {"modify_type", "modify_nullable", "remove_index"} <= kinds, found
        assert await database.run(keys_of_database) != keys_of_tables(changed)
    finally:
        await database.close()
