"""Finding the leading Mesos master through ZooKeeper (``MESOS_MASTER_URL=zk://...``).

Mesos masters contend for leadership by each creating an ephemeral sequential znode under the
configured path, named ``<label>_<10-digit sequence>``; the member with the lowest sequence leads
(Mesos ``src/zookeeper/group.cpp`` ``cache`` and ``detector.cpp``: any child whose last
``_``-separated token is a number is a member, ``log_replicas`` is not). Since Mesos 0.24 the label
is ``json.info`` and the data is the leader's MasterInfo as JSON.

The pure parts (URL, leader choice, MasterInfo → URL) are plain functions. ``ZooKeeperDetector``
runs kazoo, which has its own threads: every result is handed to the asyncio loop with
``call_soon_threadsafe``, and nothing here touches an asyncio object from kazoo's thread.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

log = logging.getLogger(__name__)

MASTER_INFO_JSON_LABEL = "json.info"
MAX_URL_LENGTH = 4096
MAX_SERVERS = 64
MAX_MASTER_INFO_BYTES = 64 * 1024  # a MasterInfo is a few hundred bytes; anything larger is not one
DEFAULT_ZK_PORT = 2181
_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)$")
_PATH_SEGMENT = re.compile(r"^[A-Za-z0-9._-]+$")
_HOSTNAME = re.compile(r"^[A-Za-z0-9._-]{1,253}$")


class ZkUrlError(ValueError):
    pass


@dataclass(frozen=True)
class ZkUrl:
    """``zk://[user:pass@]h1:p1,h2:p2/path``, split as Mesos' ``zookeeper::URL::parse`` does."""

    servers: tuple[tuple[str, int], ...]
    path: str
    username: str | None = None
    password: str | None = None

    @property
    def hosts(self) -> str:
        """The connection string kazoo takes: ``h1:p1,h2:p2``."""
        return ",".join(f"{host}:{port}" for host, port in self.servers)

    @property
    def auth_data(self) -> list[tuple[str, str]]:
        """kazoo ``auth_data``: ZooKeeper's ``digest`` scheme with ``user:password``."""
        if self.username is None:
            return []
        return [("digest", f"{self.username}:{self.password or ''}")]

    def display(self) -> str:
        credentials = f"{self.username}:****@" if self.username is not None else ""
        return f"zk://{credentials}{self.hosts}{self.path}"


def is_zk_url(url: str) -> bool:
    return url.strip().lower().startswith("zk://")


def parse_zk_url(url: str) -> ZkUrl:
    """Validate and split a ZooKeeper URL. Errors never contain the password."""
    text = url.strip()
    if len(text) > MAX_URL_LENGTH:
        raise ZkUrlError(f"longer than {MAX_URL_LENGTH} characters")
    if not text.lower().startswith("zk://"):
        raise ZkUrlError("expecting 'zk://' at the beginning of the URL")
    rest = text[5:]
    slash = rest.find("/")
    if slash < 0:
        raise ZkUrlError("no znode path: expected zk://host:port[,host:port...]/path")
    authority, path = rest[:slash], rest[slash:].rstrip("/")
    if not path:
        # Mesos refuses it too: "Expecting a (chroot) path for ZooKeeper ('/' is not supported)".
        raise ZkUrlError("the znode path must not be '/' (e.g. zk://zk1:2181/mesos)")
    if any(not _PATH_SEGMENT.match(part) or part in (".", "..") for part in path[1:].split("/")):
        # ZooKeeper refuses '.' and '..' elements; the rest keeps the path printable and plain.
        raise ZkUrlError("the znode path may contain only letters, digits, '.', '_' and '-' between slashes")
    username = password = None
    at = authority.rfind("@")
    if at >= 0:
        credentials, authority = authority[:at], authority[at + 1 :]
        username, sep, password = credentials.partition(":")
        if not username or not sep:
            raise ZkUrlError("credentials must be user:password@")
        if any(c.isspace() or not c.isprintable() for c in credentials):
            raise ZkUrlError("credentials must not contain spaces or control characters")
    servers = []
    for item in authority.split(","):
        if not item:
            raise ZkUrlError("empty server in the server list")
        host, port = _split_host_port(item)
        servers.append((host, port))
    if len(servers) > MAX_SERVERS:
        raise ZkUrlError(f"more than {MAX_SERVERS} servers")
    return ZkUrl(tuple(servers), path, username, password)


def _split_host_port(item: str) -> tuple[str, int]:
    if item.startswith("["):
        end = item.find("]")
        host, rest = item[: end + 1], item[end + 1 :]
    else:
        host, sep, port_text = item.partition(":")
        rest = f":{port_text}" if sep else ""
    if not host or not _HOST.match(host) or len(host) > 255:
        raise ZkUrlError(f"not a valid server host: {item!r}")
    if not rest:
        return host, DEFAULT_ZK_PORT
    port_text = rest[1:] if rest.startswith(":") else ""
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ZkUrlError(f"not a valid server port: {item!r}")
    return host, int(port_text)


# --- choosing the leader ---


def member_sequence(child: str) -> int | None:
    """The sequence of a group member znode (``json.info_0000000003`` → 3), None for others."""
    token = child.rsplit("_", 1)[-1]
    if not token.isdigit() or len(token) > 10:
        return None
    return int(token)


def leader_child(children: Iterable[str]) -> str | None:
    """The member with the lowest sequence, whatever its label (as Mesos' LeaderDetector decides)."""
    members = [(seq, child) for child in children if (seq := member_sequence(child)) is not None]
    return min(members)[1] if members else None


def member_label(child: str) -> str | None:
    parts = child.rsplit("_", 1)
    return parts[0] if len(parts) == 2 else None


class MasterInfoError(ValueError):
    pass


def master_url_from_info(data: bytes, scheme: str = "http") -> str:
    """The leader's base URL from its ``json.info`` data.

    Host: ``address.hostname``, else ``address.ip``, else the top-level ``hostname``, else the ip of
    ``pid`` (``master@10.0.0.1:5050``), else the top-level uint32 ``ip``. The hostname comes first
    because that is what the master itself puts in its 307 redirect and what a TLS certificate
    names; Mesos' C++ scheduler library uses the pid's ip, which is the last resort here.
    Port: ``address.port``, else ``port``, else the pid's.
    """
    if len(data) > MAX_MASTER_INFO_BYTES:
        raise MasterInfoError(f"MasterInfo larger than {MAX_MASTER_INFO_BYTES} bytes")
    try:
        info = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MasterInfoError(f"MasterInfo is not JSON: {exc}") from None
    if not isinstance(info, dict):
        raise MasterInfoError("MasterInfo is not a JSON object")
    address = info.get("address") if isinstance(info.get("address"), dict) else {}
    pid_host, pid_port = _pid_address(info.get("pid"))
    host = (
        _host(address.get("hostname"))
        or _ip(address.get("ip"))
        or _host(info.get("hostname"))
        or pid_host
        or _uint32_ip(info.get("ip"))
    )
    port = _port(address.get("port")) or _port(info.get("port")) or pid_port
    if host is None:
        raise MasterInfoError("MasterInfo names no usable host (address.hostname, address.ip, hostname, pid, ip)")
    if port is None:
        raise MasterInfoError("MasterInfo names no usable port (address.port, port, pid)")
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


def _host(value: Any) -> str | None:
    if isinstance(value, str) and _HOSTNAME.match(value) and not value.startswith(("-", ".")):
        return value
    return None


def _ip(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _uint32_ip(value: Any) -> str | None:
    # MasterInfo.ip is the IPv4 address in network byte order read as a little-endian uint32.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**32:
        return None
    return str(ipaddress.IPv4Address(value.to_bytes(4, "little")))


def _port(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        return None
    return value


def _pid_address(value: Any) -> tuple[str | None, int | None]:
    if not isinstance(value, str) or "@" not in value:
        return None, None
    host, _, port = value.rpartition("@")[2].rpartition(":")
    return _ip(host) or _host(host), _port(int(port)) if port.isdigit() and len(port) <= 5 else None


# --- the watcher ---


class ZkState(Enum):
    CONNECTING = "connecting"  # never connected yet
    CONNECTED = "connected"
    SUSPENDED = "suspended"  # connection lost; the session may still be alive
    LOST = "lost"  # session expired (or closed); kazoo keeps reconnecting with a new one


@dataclass(frozen=True)
class DetectorView:
    """What the status can show: ZooKeeper's state since when, and the leader we follow."""

    state: ZkState
    since: float  # wall clock
    leader_url: str | None
    error: str | None  # why the leader could not be read, if it could not


class ZooKeeperDetector:
    """Watch the master group; call ``on_leader(url)`` on the loop whenever the leader changes.

    ``on_leader`` gets ``None`` when no master is registered; the caller keeps its current master
    then (and while ZooKeeper is unreachable), as Mesos' own scheduler library keeps re-detecting.

    One worker thread reads the children with a one-shot watch and reads them again whenever that
    watch fires or the connection comes back (watches do not survive an expired session), so the
    watch is re-armed on every change. A path that does not exist yet is waited for with an
    ``exists`` watch (kazoo's ChildrenWatch would stop for good there).
    """

    def __init__(
        self,
        url: str,
        on_leader: Callable[[str | None], None],
        *,
        scheme: str = "http",
        session_timeout_s: float = 10.0,  # Mesos' MASTER_DETECTOR_ZK_SESSION_TIMEOUT
        retry_max_delay_s: float = 5.0,
        call_timeout_s: float = 10.0,
        client_factory: Callable[..., Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.zk_url = parse_zk_url(url)
        self.scheme = scheme
        self._on_leader = on_leader
        self._session_timeout_s = session_timeout_s
        self._retry_max_delay_s = retry_max_delay_s
        self._call_timeout_s = call_timeout_s
        self._client_factory = client_factory
        self._clock = clock
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Any = None
        self._worker: threading.Thread | None = None
        self._wake = threading.Event()  # a watch fired, the connection changed, or stop
        self._lock = threading.Lock()  # guards the fields below, written from kazoo's threads
        self._state = ZkState.CONNECTING
        self._since = clock()
        self._leader_url: str | None = None
        self._error: str | None = None
        self._stopped = False
        self.leader_changes = 0  # leaders handed to on_leader (for tests and the log)

    # --- what the scheduler reads ---

    def view(self) -> DetectorView:
        with self._lock:
            return DetectorView(self._state, self._since, self._leader_url, self._error)

    def problem(self, now: float | None = None) -> str | None:
        """One line for a scheduler warning, or None while ZooKeeper is connected and a leader known."""
        return describe_problem(self.view(), self.zk_url.display(), self._clock() if now is None else now)

    # --- lifecycle (on the loop) ---

    def start(self) -> None:
        """Connect in the background; kazoo retries the connection for ever with capped backoff."""
        from kazoo.client import KazooClient
        from kazoo.retry import KazooRetry

        self._loop = asyncio.get_running_loop()
        factory = self._client_factory or KazooClient
        self._client = factory(
            hosts=self.zk_url.hosts,
            timeout=self._session_timeout_s,
            connection_retry=KazooRetry(
                max_tries=-1, delay=0.5, backoff=2, max_jitter=0.4, max_delay=self._retry_max_delay_s
            ),
            auth_data=self.zk_url.auth_data or None,
        )
        self._client.add_listener(self._on_state)
        self._client.start_async()  # connects on kazoo's own thread; the loop is never blocked
        self._wake.set()
        self._worker = threading.Thread(target=self._run, name="zk-master-detector", daemon=True)
        self._worker.start()

    async def stop(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._wake.set()
        client, worker = self._client, self._worker  # the worker may still use the client: keep it

        def close() -> None:
            # The client first: a read the worker waits on then fails at once instead of timing out.
            if client is not None:
                try:
                    client.stop()
                    client.close()
                except Exception as exc:  # closing must never fail the shutdown
                    log.warning("Closing the ZooKeeper client failed: %r", exc)
            if worker is not None:
                worker.join(timeout=self._call_timeout_s + 1)

        await asyncio.to_thread(close)

    # --- kazoo's threads ---

    def _on_state(self, state: str) -> None:
        # kazoo's connection thread: record and wake the worker, never block here.
        mapped = {"CONNECTED": ZkState.CONNECTED, "SUSPENDED": ZkState.SUSPENDED, "LOST": ZkState.LOST}.get(state)
        if mapped is None:
            return
        with self._lock:
            if self._stopped or mapped is self._state:
                return
            self._state, self._since = mapped, self._clock()
        self._wake.set()
        if mapped is ZkState.CONNECTED:
            log.info("Connected to ZooKeeper %s", self.zk_url.display())
        else:
            log.warning("ZooKeeper %s: %s (keeping the current master)", self.zk_url.display(), mapped.value)

    def _on_watch(self, _event: Any) -> None:
        self._wake.set()

    def _run(self) -> None:
        from kazoo.exceptions import KazooException, NoNodeError

        while True:
            self._wake.wait()
            self._wake.clear()
            with self._lock:
                if self._stopped:
                    return
                connected = self._state is ZkState.CONNECTED
            if not connected:
                continue  # the state listener wakes us on CONNECTED
            try:
                self._refresh()
            except NoNodeError:
                self._set_leader(None, f"the path {self.zk_url.path} does not exist (no master has registered)")
                try:
                    if self._client.exists_async(self.zk_url.path, watch=self._on_watch).get(self._call_timeout_s):
                        self._wake.set()  # created meanwhile
                except Exception as exc:
                    self._retry_later(exc)
            except (KazooException, OSError, TimeoutError, RuntimeError) as exc:
                self._retry_later(exc)
            except Exception as exc:  # e.g. the handler's timeout type; never let the worker die
                self._retry_later(exc)

    def _retry_later(self, exc: BaseException) -> None:
        log.warning("Reading the Mesos masters from ZooKeeper failed (%r); retrying", exc)
        with self._lock:
            self._error = f"ZooKeeper read failed: {type(exc).__name__}"
        # Back off a little unless something else wakes us first.
        if not self._wake.wait(timeout=1.0):
            self._wake.set()

    def _refresh(self) -> None:
        from kazoo.exceptions import NoNodeError

        children = self._client.get_children_async(self.zk_url.path, watch=self._on_watch).get(self._call_timeout_s)
        child = leader_child(children or [])
        if child is None:
            self._set_leader(None, None)
            return
        label = member_label(child)
        if label != MASTER_INFO_JSON_LABEL:
            # Only masters older than Mesos 0.24 write other formats (a PID, a binary protobuf).
            self._set_leader(
                None, f"leader znode {child}: label {label!r} unsupported (Mesos >= 0.24 writes json.info)"
            )
            return
        try:
            data, _stat = self._client.get_async(f"{self.zk_url.path}/{child}").get(self._call_timeout_s)
        except NoNodeError:
            self._wake.set()  # gone between the listing and the read: list again
            return
        try:
            self._set_leader(master_url_from_info(data or b"", self.scheme), None)
        except MasterInfoError as exc:
            log.error("Leading master znode %s: %s", child, exc)
            self._set_leader(None, f"leader znode {child}: {exc}")

    def _set_leader(self, url: str | None, error: str | None) -> None:
        with self._lock:
            self._error = error
            if error is not None:
                return  # keep the master we have: a bad znode is no reason to drop it
            changed = url != self._leader_url
            self._leader_url = url
        if changed:
            self._post(url)

    def _post(self, url: str | None) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        log.info("Leading Mesos master from ZooKeeper: %s", url or "none registered")
        try:
            loop.call_soon_threadsafe(self._deliver, url)
        except RuntimeError:  # the loop closed meanwhile (shutdown)
            pass

    def _deliver(self, url: str | None) -> None:
        # On the loop.
        if self._stopped:
            return
        self.leader_changes += 1
        try:
            self._on_leader(url)
        except Exception:
            log.exception("Handling a new leading master failed")


def describe_problem(view: DetectorView, where: str, now: float) -> str | None:
    """The warning line for a detector view (pure, for the status), or None when all is well."""
    held = f"; keeping master {view.leader_url}" if view.leader_url else ""
    for_s = f"for {max(0.0, now - view.since):.0f} s"
    if view.state is ZkState.CONNECTING:
        return f"not connected to ZooKeeper {where} yet ({for_s})"
    if view.state is ZkState.SUSPENDED:
        return f"connection to ZooKeeper {where} lost {for_s}, reconnecting{held}"
    if view.state is ZkState.LOST:
        return f"ZooKeeper session at {where} expired {for_s}, reconnecting{held}"
    if view.error:
        return f"cannot read the leading master from ZooKeeper {where}: {view.error}{held}"
    if view.leader_url is None:
        return f"no Mesos master is registered in ZooKeeper {where}"
    return None


def detector_for(master_url: str, scheme: str, on_leader: Callable[[str | None], None]) -> ZooKeeperDetector | None:
    """A detector when ``master_url`` is ``zk://``, else None (the URL is the master itself)."""
    return ZooKeeperDetector(master_url, on_leader, scheme=scheme) if is_zk_url(master_url) else None
