"""Helpers for the ZooKeeper tests: a MasterInfo as Mesos writes it, expiring a client's session."""

from __future__ import annotations

import json
import uuid


def master_info(host: str, port: int) -> bytes:
    return json.dumps(
        {
            "id": str(uuid.uuid4()),
            "ip": 16777343,  # 127.0.0.1
            "port": port,
            "pid": f"master@127.0.0.1:{port}",
            "hostname": host,
            "version": "1.11.0",
            "address": {"hostname": host, "ip": "127.0.0.1", "port": port},
        }
    ).encode()


def expire_session(zookeeper, client) -> None:
    """Expire ``client``'s session on the server: a second client on the same session closes it."""
    from kazoo.client import KazooClient

    twin = KazooClient(hosts=f"127.0.0.1:{zookeeper.port}", client_id=client.client_id)
    twin.start(timeout=15)
    twin.stop()
    twin.close()
