"""Stand-ins for the dependencies that cannot be installed here, and a TCP forwarder for those that can.

Each HTTP stand-in is a small aiohttp server on an ephemeral loopback port that answers like the
real service (paths, status codes, bodies, headers). Any of them can be told to:

* ``fail``: answer 503 to everything;
* ``hang``: accept the connection, read the request and never answer (until ``close``);
* a service-specific state (cluster colour, Vault seal state, buffer sizes, ...).

``Forwarder`` sits between a probe and a real PostgreSQL or RabbitMQ: ``cut()`` closes every
connection and stops listening (connections are refused), ``blackhole()`` accepts connections and
never forwards a byte, ``restore()`` forwards again on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from typing import Any

from aiohttp import web

# Distinctive fake secrets: if one shows up anywhere, it leaked.
TOKEN = "hvs.TEST-token-6d1f9c2a"
BROKER_PASSWORD = "broker-pw-8c41e7"
DB_PASSWORD = "db-pw-2b9f5a"
ES_PASSWORD = "es-pw-71c3d0"

ES_MEDIA_TYPE = "application/vnd.elasticsearch+json;compatible-with=9"


class StandIn:
    """An aiohttp app on 127.0.0.1:<ephemeral> whose ``mode`` the test steers."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.requests: list[web.Request] = []
        self.headers_seen: list[dict[str, str]] = []
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    @web.middleware
    async def _steer(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append(request)
        self.headers_seen.append(dict(request.headers))
        if self.mode == "hang":
            await self._release.wait()
            raise web.HTTPServiceUnavailable()
        if self.mode == "fail":
            return web.Response(status=503, text="Service Unavailable")
        return await handler(request)

    async def start(self) -> StandIn:
        app = web.Application(middlewares=[self._steer])
        self.routes(app)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def close(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()


class EsStandIn(StandIn):
    """``GET /`` (info), ``HEAD /`` (ping) and ``GET /_cluster/health`` of an Elasticsearch 9 node."""

    INFO = {
        "name": "es-node-1",
        "cluster_name": "scale-logs",
        "cluster_uuid": "hRxa0WbBQlWbx9qD5N1Mrg",
        "version": {
            "number": "9.0.3",
            "build_flavor": "default",
            "build_type": "docker",
            "build_hash": "cc7302afc8499e83262ba2ceaa96451681f0609d",
            "build_date": "2025-06-18T22:09:56.772581489Z",
            "build_snapshot": False,
            "lucene_version": "10.1.0",
            "minimum_wire_compatibility_version": "8.18.0",
            "minimum_index_compatibility_version": "8.0.0",
        },
        "tagline": "You Know, for Search",
    }

    def __init__(self, health: str = "green") -> None:
        super().__init__()
        self.health = health
        self.product_header = True
        self.health_error: int | None = None  # e.g. 503 from /_cluster/health only

    def _answer(self, body: Any, status: int = 200) -> web.Response:
        headers = {"X-Elastic-Product": "Elasticsearch"} if self.product_header else {}
        return web.Response(status=status, body=json.dumps(body), headers={**headers, "Content-Type": ES_MEDIA_TYPE})

    def routes(self, app: web.Application) -> None:
        async def info(request: web.Request) -> web.Response:
            if request.method == "HEAD":
                return self._answer({})
            return self._answer(self.INFO)

        async def health(_request: web.Request) -> web.Response:
            if self.health_error:
                error = {
                    "error": {"type": "master_not_discovered_exception", "reason": None},
                    "status": self.health_error,
                }
                return self._answer(error, self.health_error)
            unassigned = {"green": 0, "yellow": 5, "red": 10}.get(self.health, 0)
            return self._answer(
                {
                    "cluster_name": "scale-logs",
                    "status": self.health,
                    "timed_out": False,
                    "number_of_nodes": 1,
                    "number_of_data_nodes": 1,
                    "active_primary_shards": 5,
                    "active_shards": 5,
                    "relocating_shards": 0,
                    "initializing_shards": 0,
                    "unassigned_shards": unassigned,
                    "unassigned_primary_shards": unassigned if self.health == "red" else 0,
                    "delayed_unassigned_shards": 0,
                    "number_of_pending_tasks": 0,
                    "number_of_in_flight_fetch": 0,
                    "task_max_waiting_in_queue_millis": 0,
                    "active_shards_percent_as_number": 100.0 if self.health == "green" else 50.0,
                }
            )

        app.router.add_route("GET", "/", info)  # aiohttp answers HEAD through the GET route
        app.router.add_get("/_cluster/health", health)


class VaultStandIn(StandIn):
    """``/v1/sys/health`` with Vault's status codes, and ``/v1/auth/token/lookup-self``."""

    CODES = {"active": 200, "standby": 429, "dr_secondary": 472, "perf_standby": 473, "uninit": 501, "sealed": 503}

    def __init__(self, token: str, state: str = "active") -> None:
        super().__init__()
        self.token = token
        self.state = state

    def routes(self, app: web.Application) -> None:
        async def health(_request: web.Request) -> web.Response:
            body = {
                "initialized": self.state != "uninit",
                "sealed": self.state in ("sealed", "uninit"),
                "standby": self.state in ("standby", "perf_standby"),
                "performance_standby": self.state == "perf_standby",
                "replication_performance_mode": "disabled",
                "replication_dr_mode": "secondary" if self.state == "dr_secondary" else "disabled",
                "server_time_utc": 1735689600,
                "version": "1.17.2",
            }
            if self.state not in ("sealed", "uninit"):
                body.update(cluster_name="vault-cluster-5f2a9e1c", cluster_id="3d6b1f8e-1c1e-4a57-9c1b-6e2f0d6a8b21")
            return web.json_response(body, status=self.CODES[self.state])

        async def lookup_self(request: web.Request) -> web.Response:
            if request.headers.get("X-Vault-Token") != self.token:
                return web.json_response({"errors": ["permission denied"]}, status=403)
            return web.json_response(
                {
                    "request_id": "8f2d1c3b-6a1e-4d2b-9e6f-0a1b2c3d4e5f",
                    "lease_id": "",
                    "renewable": False,
                    "lease_duration": 0,
                    "data": {
                        "accessor": "8609694a-cdbc-db9b-d345-e782dbb562ed",
                        "display_name": "token-scale",
                        "policies": ["default", "scale"],
                        "ttl": 2764799,
                        "type": "service",
                        "renewable": True,
                    },
                    "wrap_info": None,
                    "warnings": None,
                    "auth": None,
                }
            )

        app.router.add_get("/v1/sys/health", health)
        app.router.add_get("/v1/auth/token/lookup-self", lookup_self)


class SiloStandIn(StandIn):
    def routes(self, app: web.Application) -> None:
        async def root(_request: web.Request) -> web.Response:
            return web.json_response({"name": "silo", "version": "0.5.0"})

        app.router.add_get("/", root)


class FluentdStandIn(StandIn):
    """fluentd's ``monitor_agent`` (``/api/plugins.json``) with one elasticsearch output."""

    def __init__(self, queue_length: int = 0, queued_size: int = 0) -> None:
        super().__init__()
        self.queue_length = queue_length
        self.queued_size = queued_size
        self.body_override: bytes | None = None

    def routes(self, app: web.Application) -> None:
        async def plugins(_request: web.Request) -> web.Response:
            if self.body_override is not None:
                return web.Response(body=self.body_override, content_type="application/json")
            return web.json_response(
                {
                    "plugins": [
                        {
                            "plugin_id": "object:3fe5d5e0a0a8",
                            "plugin_category": "input",
                            "type": "forward",
                            "config": {"@type": "forward", "port": "24224", "bind": "0.0.0.0"},
                            "output_plugin": False,
                            "retry_count": None,
                        },
                        {
                            "plugin_id": "es_output",
                            "plugin_category": "output",
                            "type": "elasticsearch",
                            "config": {"@type": "elasticsearch", "host": "elasticsearch", "port": "9200"},
                            "output_plugin": True,
                            "buffer_queue_length": self.queue_length,
                            "buffer_timekeys": [],
                            "buffer_total_queued_size": self.queued_size,
                            "retry_count": 0,
                            "emit_records": 120,
                            "emit_count": 12,
                            "write_count": 12,
                            "rollback_count": 0,
                            "slow_flush_count": 0,
                            "flush_time_count": 421,
                            "retry": {},
                        },
                    ]
                }
            )

        app.router.add_get("/api/plugins.json", plugins)


class GeoaxisStandIn(StandIn):
    """Scale's GEOAxIS login URL, redirecting (as social-auth does) to a login page answering 200."""

    def __init__(self) -> None:
        super().__init__()
        self.login_status = 200

    def routes(self, app: web.Application) -> None:
        async def login(_request: web.Request) -> web.Response:
            raise web.HTTPFound("/ms_oauth/oauth2/endpoints/oauthservice/authorize?client_id=scale")

        async def authorize(_request: web.Request) -> web.Response:
            if self.login_status != 200:
                return web.Response(status=self.login_status, text="no")
            return web.Response(text="<html><body>GEOAxIS sign in</body></html>", content_type="text/html")

        app.router.add_get("/social-auth/login/geoaxis/", login)
        app.router.add_get("/ms_oauth/oauth2/endpoints/oauthservice/authorize", authorize)


class TcpSink:
    """A plain TCP listener (fluentd's forward input): accepts and counts connections."""

    def __init__(self) -> None:
        self.connections = 0
        self._server: asyncio.base_events.Server | None = None
        self.port = 0

    async def start(self) -> TcpSink:
        async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            writer.close()

        self._server = await asyncio.start_server(accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    @property
    def address(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


def free_port() -> int:
    """A loopback port nothing listens on (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Forwarder:
    """A TCP forwarder between a probe and a real service, which the test can cut and restore."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.mode = "forward"
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.accepted = 0
        self.stalled = False

    async def start(self) -> Forwarder:
        await self._listen()
        return self

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    def url_for(self, url: str) -> str:
        """``url`` with its host:port replaced by the forwarder's."""
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(url)
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@127.0.0.1:{self.port}" if userinfo else f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self._writers.add(writer)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        upstream_writer: asyncio.StreamWriter | None = None
        try:
            if self.mode == "blackhole":
                await reader.read()  # hold it open, forward nothing, until the client gives up
                return
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
            self._writers.add(upstream_writer)
            await asyncio.gather(_pipe(reader, upstream_writer, self), _pipe(upstream_reader, writer, self))
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            for w in (writer, upstream_writer):
                if w is not None:
                    self._writers.discard(w)
                    w.close()
            self._tasks.discard(task)

    def _drop_connections(self) -> None:
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._writers.clear()

    async def cut(self) -> None:
        """Stop listening and drop every connection: new connections are refused."""
        self.mode = "cut"
        if self._server is not None:
            self._server.close()
            self._server = None
        self._drop_connections()
        await asyncio.sleep(0)

    async def blackhole(self) -> None:
        """Drop every connection, then accept new ones and never forward a byte."""
        self.mode = "blackhole"
        self._drop_connections()
        if self._server is None:
            await self._listen()

    async def stall(self) -> None:
        """Keep every connection open but stop passing bytes, as a server that hangs mid-query."""
        self.mode = "blackhole"  # new connections: accepted, never forwarded
        self.stalled = True

    async def restore(self) -> None:
        self.stalled = False
        self.mode = "forward"
        self._drop_connections()
        if self._server is None:
            await self._listen()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        self._drop_connections()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=1)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, forwarder: Forwarder) -> None:
    try:
        while data := await reader.read(65536):
            while forwarder.stalled:  # hold the bytes: the other side waits forever
                await asyncio.sleep(0.05)
            writer.write(data)
            await writer.drain()
    finally:
        with contextlib.suppress(Exception):
            writer.write_eof()
