"""``sim --zk zk://host:port/path``: the simulated master contends for leadership in ZooKeeper.

A real Mesos master joins the group at the path with an ephemeral sequential znode
``json.info_<10-digit sequence>`` whose data is its MasterInfo as JSON; the lowest sequence leads.
The simulator does the same, and follows its own availability: while it is "down" (control API
restart with ``down_seconds``) or redirecting to another leader its znode is deleted, and a new
one (a new, higher sequence) is created when it serves again, like a master that lost leadership
and came back. When the ZooKeeper session expires the znode is gone with it and is created again
on reconnection (a real master exits then, and is restarted by its supervisor).

kazoo runs its own threads; every kazoo call here is made through ``asyncio.to_thread``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

import orjson

from scheduler.mesos.master_detector import MASTER_INFO_JSON_LABEL, ZkUrl, parse_zk_url

if TYPE_CHECKING:
    from scheduler.sim.server import SimHandle

log = logging.getLogger(__name__)

POLL_S = 0.1  # how often the simulator's availability is looked at
CALL_TIMEOUT_S = 10.0


class ZkRegistration:
    """Keeps one ``json.info_`` znode for a running simulator while it serves as the leader."""

    def __init__(self, handle: SimHandle, url: str, *, session_timeout_s: float = 10.0) -> None:
        self.handle = handle
        self.zk_url: ZkUrl = parse_zk_url(url)
        self.znode: str | None = None  # the full path of our member znode, while registered
        self.registrations = 0
        self._session_timeout_s = session_timeout_s
        self._client = None
        self._session_lost = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        from kazoo.client import KazooClient
        from kazoo.retry import KazooRetry

        loop = asyncio.get_running_loop()
        self._client = KazooClient(
            hosts=self.zk_url.hosts,
            timeout=self._session_timeout_s,
            connection_retry=KazooRetry(max_tries=-1, delay=0.5, backoff=2, max_delay=5.0),
            auth_data=self.zk_url.auth_data or None,
        )

        def on_state(state: str) -> None:  # kazoo's thread
            if state == "LOST":
                loop.call_soon_threadsafe(self._session_lost.set)

        self._client.add_listener(on_state)
        await asyncio.to_thread(self._client.start, CALL_TIMEOUT_S)
        await asyncio.to_thread(self._client.ensure_path, self.zk_url.path)
        self._task = asyncio.create_task(self._follow(), name="sim-zk-registration")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._withdraw(), CALL_TIMEOUT_S)
            client, self._client = self._client, None
            await asyncio.to_thread(_close, client)

    async def _follow(self) -> None:
        while True:
            if self._session_lost.is_set():
                self._session_lost.clear()
                if self.znode is not None:
                    log.warning("ZooKeeper session expired: znode %s is gone", self.znode)
                    self.znode = None
            try:
                serving = self.handle.master.serving()
                if serving and self.znode is None:
                    await self._register()
                elif not serving and self.znode is not None:
                    await self._withdraw()
            except Exception as exc:  # ZooKeeper away: try again on the next round
                log.warning("ZooKeeper registration: %r", exc)
                await asyncio.sleep(1.0)
            await asyncio.sleep(POLL_S)

    async def _register(self) -> None:
        data = orjson.dumps(self.handle.state.master_info())
        prefix = f"{self.zk_url.path}/{MASTER_INFO_JSON_LABEL}_"
        self.znode = await asyncio.to_thread(self._client.create, prefix, data, ephemeral=True, sequence=True)
        self.registrations += 1
        log.info("Registered in ZooKeeper as %s", self.znode)

    async def _withdraw(self) -> None:
        from kazoo.exceptions import NoNodeError

        znode = self.znode
        if znode is None:
            return
        with contextlib.suppress(NoNodeError):  # already gone with an expired session
            await asyncio.to_thread(self._client.delete, znode)
        self.znode = None
        log.info("Withdrew %s from ZooKeeper (not leading)", znode)


def _close(client) -> None:
    try:
        client.stop()
        client.close()
    except Exception as exc:
        log.warning("Closing the ZooKeeper client failed: %r", exc)


class RegistrationFailed(Exception):
    pass


async def register(handle: SimHandle, url: str) -> ZkRegistration:
    """Start following ``handle``'s availability in ZooKeeper at ``url``; ``close()`` it before the handle."""
    registration = ZkRegistration(handle, url)
    try:
        await registration.start()
    except Exception as exc:  # unreachable, refused credentials, ...
        await registration.close()
        raise RegistrationFailed(f"cannot register in ZooKeeper {registration.zk_url.display()}: {exc!r}") from None
    return registration
