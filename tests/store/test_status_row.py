"""The status stored for the api command and standbys: gzipped in the scheduler row, read back as the
same document, its gzip bytes sent to gzip clients as stored; a row from before migration 0006 (text)
still read; a bad gzip refused, not served."""

import gzip
import time
from datetime import UTC, datetime

import orjson
import pytest
from sqlalchemy import update

from scheduler.api import database_status, encodings
from scheduler.api.database_status import DatabaseStatus, snapshot_of
from scheduler.status.snapshot import StatusSnapshot
from scheduler.store.database import Database
from scheduler.store.scheduler_row import ROW_ID, StoredStatus, load_status, save_status
from scheduler.store.tables import scheduler_table


def document(nodes: int = 2000) -> bytes:
    return orjson.dumps({"timestamp": "now", "nodes": [{"id": i, "hostname": f"host-{i}"} for i in range(nodes)]})


@pytest.mark.integration
async def test_the_gzipped_status_round_trips_and_gzip_clients_get_the_stored_bytes(database_url):
    database = Database(database_url)
    try:
        await database.migrate()
        generated_at = time.time()
        snapshot = StatusSnapshot(generated_at, document())
        gzipped = encodings.encoded(snapshot, "gzip")
        await database.run(lambda connection: save_status(connection, gzipped, generated_at))

        stored = await database.run(load_status)
        assert stored.gzipped == gzipped and stored.text is None
        assert abs(stored.time.timestamp() - generated_at) < 1e-3

        source = DatabaseStatus(database, freshness_s=12.0)
        await source.refresh()
        served = source.current()
        assert served.body == snapshot.body
        assert served.encoded_if_ready("gzip") == gzipped  # not compressed again
        assert served.etag == StatusSnapshot(stored.time.timestamp(), snapshot.body).etag
    finally:
        await database.close()


@pytest.mark.integration
async def test_a_text_status_from_an_older_scheduler_is_still_served(database_url):
    database = Database(database_url)
    try:
        await database.migrate()
        body = document(10)
        written = datetime.now(UTC)

        def write_as_before_0006(connection):
            connection.execute(
                update(scheduler_table)
                .where(scheduler_table.c.id == ROW_ID)
                .values(status=body.decode(), status_time=written, status_gzip=None)
            )

        await database.run(write_as_before_0006)
        source = DatabaseStatus(database, freshness_s=12.0)
        await source.refresh()
        assert source.current().body == body
        # The next write of this version replaces the text: one document in the row, not two.
        await database.run(lambda connection: save_status(connection, gzip.compress(body), time.time()))
        assert (await database.run(load_status)).text is None
    finally:
        await database.close()


def test_no_status_stored_is_no_snapshot():
    assert snapshot_of(StoredStatus(None, None, None)) is None
    assert snapshot_of(StoredStatus(None, None, datetime.now(UTC))) is None


@pytest.mark.parametrize(
    "gzipped, why",
    [
        (gzip.compress(b"x" * 500)[:-12], "cut short"),
        (b"not gzip at all", "Error"),
        (gzip.compress(b"{" + b" " * 4096 + b"}"), "more than 1024 bytes"),
    ],
    ids=["truncated", "garbage", "too-large-inflated"],
)
def test_a_bad_stored_gzip_is_refused(monkeypatch, gzipped, why):
    monkeypatch.setattr(database_status, "MAX_DOCUMENT_BYTES", 1024)
    with pytest.raises(Exception, match=why):
        snapshot_of(StoredStatus(gzipped, None, datetime.now(UTC)))


async def test_a_bad_stored_gzip_keeps_the_last_document_and_says_why(tmp_path, caplog):
    database = Database(f"sqlite:///{tmp_path}/status.db")
    try:
        await database.migrate()
        first = time.time()
        await database.run(lambda connection: save_status(connection, gzip.compress(document(5)), first))
        source = DatabaseStatus(database, freshness_s=12.0, poll_interval_s=0.01)
        await source.refresh()
        good = source.current()
        await database.run(lambda connection: save_status(connection, b"\x1f\x8b broken", first + 1))
        with pytest.raises(Exception, match="Error"):
            await source.refresh()
        assert source.current() is good
    finally:
        await database.close()
