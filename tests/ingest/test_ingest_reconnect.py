"""The message handler back on the broker within 5 s of its return (issue 10, item 8: it took 11 s,
its backoff had reached 16 s), with the backoff production uses. RabbitMQ is cut off by a TCP proxy
in the test; the real one goes on serving the other tests."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from ingestkit import (
    TcpProxy,
    make_settings,
    prepare_database,
    stored_message_ids,
    wait_until,
    with_port,
)

from scheduler.jobs.messages import build_queue_jobs_for
from scheduler.messaging.handler import RECONNECT_MAX_S
from scheduler.messaging.producer import publish_queue_jobs

AWAY_S = 16.0  # long enough for the old doubling backoff (1, 2, 4, 8 s) to wait 16 s next


def test_the_handler_consumes_again_within_5_s_of_the_brokers_return(tmp_path, rabbitmq_url, queue_name, start_handler):
    database_url = f"sqlite:///{tmp_path}/db.sqlite"
    prepare_database(database_url)
    parts = urlsplit(rabbitmq_url)
    proxy = TcpProxy(parts.hostname, parts.port or 5672)
    proxy.start()
    settings = make_settings(database_url, with_port(rabbitmq_url, proxy.port), queue_name)
    direct = make_settings(database_url, rabbitmq_url, queue_name)
    try:
        # The defaults the daemon and the message-handler command use, not the fixture's short ones.
        handler = start_handler(settings, backoff_start_s=1.0, backoff_max_s=30.0)
        wait_until(lambda: handler.consuming, what="the handler consuming")
        proxy.stop()
        wait_until(lambda: not handler.consuming, what="the handler to notice")
        cut_at = time.monotonic()
        wait_until(lambda: time.monotonic() - cut_at >= AWAY_S, timeout=AWAY_S + 1, interval=0.5)
        errors = handler.counters["broker_errors"]
        assert errors >= int(AWAY_S / RECONNECT_MAX_S)  # no wait over RECONNECT_MAX_S (the old ones: 1, 2, 4, 8)
        publish_queue_jobs(direct, build_queue_jobs_for("alpha", "1.0", message_id="while-away"))
        proxy.start()
        back_at = time.monotonic()
        wait_until(lambda: handler.consuming, timeout=10, interval=0.02, what="consuming again")
        consuming_after = time.monotonic() - back_at
        wait_until(lambda: stored_message_ids(database_url) == ["while-away"], what="the message stored")
        print(
            f"\nbroker cut {AWAY_S:.0f} s ({errors} failed connects): consuming again {consuming_after:.2f} s after"
            f" its return, the waiting message stored {time.monotonic() - back_at:.2f} s after"
        )
        assert consuming_after < 5.0
    finally:
        proxy.stop()
