"""Node rows on SQLite and PostgreSQL: stable ids, updates, pause flags."""

import pytest

from scheduler.store.database import Database
from scheduler.store.nodes import NodeRow, load_nodes, load_pause_flags, save_nodes, set_node_paused

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
