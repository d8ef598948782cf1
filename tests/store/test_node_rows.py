"""Node rows on SQLite and PostgreSQL: stable ids, updates, pause flags."""

import pytest
from sqlalchemy import select

from scheduler.store.database import Database
from scheduler.store.node_rows import NodeRow, load_nodes, load_pause_flags, save_nodes, set_node_paused
from scheduler.store.tables import node_table

pytestmark = pytest.mark.integration


async def test_ids_are_stable_and_updates_apply(database_url):
    database = Database(database_url)
    await database.migrate()
    ids = await database.run(lambda c: save_nodes(c, [NodeRow("host-a", "S1", True), NodeRow("host-b", "S2", True)]))
    assert set(ids) == {"host-a", "host-b"} and ids["host-a"] != ids["host-b"]

    # Written again as new (e.g. by a restarted instance that lost the answer): same ids, no duplicates.
    again = await database.run(lambda c: save_nodes(c, [NodeRow("host-a", "S9", False)]))
    assert again == {"host-a": ids["host-a"]}
    rows = {r.hostname: r for r in await database.run(load_nodes)}
    assert rows["host-a"] == NodeRow("host-a", "S9", False, False, ids["host-a"])
    assert rows["host-b"].agent_id == "S2" and rows["host-b"].is_active

    assert await database.run(lambda c: set_node_paused(c, "host-b", True)) is True
    assert await database.run(lambda c: set_node_paused(c, "nowhere", True)) is False
    assert (await database.run(load_pause_flags)) == {"host-a": False, "host-b": True}
    await database.close()


async def test_many_nodes_in_one_write(database_url):
    database = Database(database_url)
    await database.migrate()
    rows = [NodeRow(f"agent-{i:05d}", f"S{i}", True) for i in range(2000)]
    ids = await database.run(lambda c: save_nodes(c, rows))
    assert len(set(ids.values())) == 2000
    await database.close()


async def test_many_known_nodes_change_in_one_write(database_url, monkeypatch):
    from scheduler.store import multi_row

    monkeypatch.setattr(multi_row, "ROWS_PER_STATEMENT", 64)  # several statements, and chunked lookups
    database = Database(database_url)
    await database.migrate()
    rows = [NodeRow(f"agent-{i:04d}", f"S{i}", i % 3 != 0) for i in range(300)]
    ids = await database.run(lambda c: save_nodes(c, rows))
    first = {r.hostname: r for r in await database.run(load_nodes)}
    deprecated = await database.run(
        lambda c: dict(c.execute(select(node_table.c.hostname, node_table.c.deprecated)).all())
    )
    # Every node comes back under a new agent id; a third change state (retired <-> active).
    changed = [NodeRow(r.hostname, f"T{i}", r.is_active if i % 2 else not r.is_active, False, ids[r.hostname])
               for i, r in enumerate(rows)]  # fmt: skip
    assert await database.run(lambda c: save_nodes(c, changed)) == ids
    after = {r.hostname: r for r in await database.run(load_nodes)}
    assert after == {r.hostname: r for r in changed}
    now_deprecated = await database.run(
        lambda c: dict(c.execute(select(node_table.c.hostname, node_table.c.deprecated)).all())
    )
    for row in changed:
        if row.is_active:
            assert now_deprecated[row.hostname] is None
        elif not first[row.hostname].is_active:
            assert now_deprecated[row.hostname] == deprecated[row.hostname]  # retired at its first retirement
        else:
            assert now_deprecated[row.hostname] is not None
    # More new nodes than one lookup takes: each is found, none is inserted twice.
    more = rows + [NodeRow(f"agent-new-{i}", "", True) for i in range(100)]
    again = await database.run(lambda c: save_nodes(c, more))
    assert {h: again[h] for h in ids} == ids and len(set(again.values())) == 400
    await database.close()
