"""The simulated master over real HTTP: aiohttp app, subscription streams, timers.

`SimMaster` owns the MasterState and everything asynchronous around it:

* one RecordIO stream per subscription (a chunked 200 response whose handler
  pumps a queue and writes HEARTBEATs), closed by the master (failover,
  teardown, restart) or noticed when the client goes away;
* one timer task that sleeps until the state's next deadline (task steps,
  update re-sends, failover timeouts);
* one allocation task that runs a cycle every `allocation_interval_s`.

`POST /api/v1/scheduler` answers with the status codes and messages of
`Master::Http::scheduler` (Mesos 1.11), in its order of evaluation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web
from yarl import URL

from scheduler.sim import auth, control, schema, views, zk_registration
from scheduler.sim.masterhttp import (
    APPLICATION_JSON,
    APPLICATION_PROTOBUF,
    STREAM_ID_HEADER,
    accepts,
    json_response,
    principal_error,
    principal_mismatch,
    text,
)
from scheduler.sim.options import SimConfig
from scheduler.sim.state import Effects, MasterState
from scheduler.sim.streams import ABORT, CLOSE, HEARTBEAT_RECORD, Stream, record

log = logging.getLogger("scheduler.sim")


class SimMaster:
    """The running simulator: state plus streams and timers. One per server."""

    def __init__(self, config: SimConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self.state = MasterState(config, clock())
        self.redirect_to: str | None = config.redirect_to
        self.down_until: float | None = None
        # A slow master: each scheduler call waits this long before it is handled and answered.
        self.call_latency_s = config.call_latency_ms / 1000.0
        self.delayed_calls = 0  # calls waiting out the latency now
        self.streams: dict[str, Stream] = {}
        self._kick = asyncio.Event()
        self._background: list[asyncio.Task] = []

    # -- lifecycle --

    async def start(self) -> None:
        self._background = [
            asyncio.create_task(self._timer_loop(), name="sim-timers"),
            asyncio.create_task(self._allocation_loop(), name="sim-allocation"),
        ]

    async def stop(self) -> None:
        for task in self._background:
            task.cancel()
        for task in self._background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._background = []
        for stream in list(self.streams.values()):
            self._close_stream(stream, abort=False)

    # -- status --

    def is_down(self) -> bool:
        if self.down_until is None:
            return False
        if self.clock() < self.down_until:
            return True
        self.state.elect(self.down_until)  # recovered and elected again
        self.down_until = None
        return False

    def serving(self) -> bool:
        return self.redirect_to is None and not self.is_down()

    def runtime(self) -> dict:
        now = self.clock()
        return {
            "url": f"http://{self.state.hostname}:{self.state.port}",
            "leader": self.redirect_to is None,
            "redirect_to": self.redirect_to,
            "down": self.is_down(),
            "down_until": self.down_until,
            "streams": len(self.streams),
            "silenced_streams": sum(1 for s in self.streams.values() if s.silenced_until > now),
            "call_latency_ms": self.call_latency_s * 1000.0,
            "delayed_calls": self.delayed_calls,
        }

    # -- effects --

    def apply(self, fx: Effects | None) -> None:
        """Deliver events to the frameworks' current streams and close streams."""
        if fx is None:
            return
        now = self.clock()
        frameworks = self.state.frameworks
        for framework_id, event in fx.events:
            fw = frameworks.get(framework_id)
            stream = self.streams.get(fw.stream_id) if fw is not None and fw.stream_id else None
            # A silenced stream behaves like a half-open connection: data is lost.
            if stream is None or stream.closing or stream.silenced_until > now:
                continue
            stream.queue.put_nowait(record(event))
        for close in fx.closes:
            stream = self.streams.get(close.stream_id)
            if stream is None or stream.closing:
                continue
            if close.error and stream.silenced_until <= now:
                stream.queue.put_nowait(record({"type": "ERROR", "error": {"message": close.error}}))
            self._close_stream(stream, abort=close.abort)
        if fx.wake_at is not None:
            self._kick.set()

    def _close_stream(self, stream: Stream, *, abort: bool) -> None:
        stream.closing = True
        stream.queue.put_nowait(ABORT if abort else CLOSE)

    async def _timer_loop(self) -> None:
        # Sleeps on an Event set either by a loop timer at the next deadline or by
        # apply() when an operation armed an earlier one. (No asyncio.wait_for:
        # on Python 3.11 it can swallow the cancellation that stops this loop.)
        loop = asyncio.get_running_loop()
        while True:
            self._kick.clear()
            deadline = self.state.next_deadline()
            wakeup = None
            if deadline is not None:
                wakeup = loop.call_later(max(0.0, deadline - self.clock()), self._kick.set)
            try:
                await self._kick.wait()
            finally:
                if wakeup is not None:
                    wakeup.cancel()
            try:
                self.apply(self.state.advance(self.clock()))
            except Exception:  # pragma: no cover - a bug must not stop the clock
                log.exception("simulator timer step failed")

    async def _allocation_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.allocation_interval_s)
            if not self.serving():
                continue
            try:
                self.apply(self.state.allocate(self.clock()))
            except Exception:  # pragma: no cover
                log.exception("simulator allocation failed")

    # -- control operations (also used in-process by tests and benchmarks) --

    def add_agents(self, count: int = 1, **kwargs) -> list:
        agents = self.state.add_agents(self.clock(), count, **kwargs)
        log.info("added %d agent(s)", len(agents))
        return agents

    def remove_agent(self, agent_id: str) -> Effects:
        fx = self.state.remove_agent(self.clock(), agent_id)
        self.apply(fx)
        log.info("agent %s lost", agent_id)
        return fx

    def partition(self, agent_id: str) -> Effects:
        fx = self.state.partition(self.clock(), agent_id)
        self.apply(fx)
        log.info("agent %s partitioned from the master", agent_id)
        return fx

    def heal(self, agent_id: str) -> Effects:
        fx = self.state.heal(self.clock(), agent_id)
        self.apply(fx)
        log.info("agent %s healed", agent_id)
        return fx

    def set_usage(self, agent_id: str, usage) -> Effects:
        fx = self.state.set_usage(self.clock(), agent_id, usage)
        self.apply(fx)
        return fx

    def restart(self, down_seconds: float) -> None:
        """Master failover: all streams drop; 503 for `down_seconds`; state kept."""
        now = self.clock()
        self.apply(self.state.master_failover(now))
        self.down_until = now + down_seconds
        if down_seconds <= 0:
            self.is_down()
        log.info("master restarted, down for %.3f s", down_seconds)

    def set_latency(self, ms: float) -> None:
        self.call_latency_s = ms / 1000.0
        log.info("scheduler calls now take %.0f ms to answer", ms)

    def silence(self, seconds: float) -> int:
        until = self.clock() + seconds
        for stream in self.streams.values():
            stream.silenced_until = until
        log.info("silenced %d stream(s) for %.3f s", len(self.streams), seconds)
        return len(self.streams)

    def set_leader(self, redirect_to: str | None) -> None:
        if redirect_to is not None and self.redirect_to is None:
            # A master that loses leadership aborts; its streams drop.
            self.apply(self.state.master_failover(self.clock()))
        elif redirect_to is None and self.redirect_to is not None:
            self.state.elect(self.clock())
        self.redirect_to = redirect_to
        log.info("leader: %s", "this master" if redirect_to is None else redirect_to)

    def end_task(self, task_id: str, spec: dict, framework_id: str | None = None):
        task = self.state.find_task(task_id, framework_id)
        self.apply(self.state.end_task(self.clock(), task, spec))
        return task

    # -- HTTP: guards shared by the master endpoints --

    def _redirect(self, request: web.Request) -> web.Response:
        leader = URL(self.redirect_to)
        port = leader.explicit_port or leader.port
        return web.Response(status=307, headers={"Location": f"//{leader.host}:{port}{request.path}"})

    def guard(self, request: web.Request, *, redirect: bool = True) -> web.Response | None:
        if redirect and self.redirect_to is not None:
            return self._redirect(request)
        if self.is_down():
            return text(503, "Master has not finished recovery")
        return None

    # -- HTTP: /api/v1/scheduler --

    def _authenticate(self, request: web.Request, realm: str) -> tuple[str | None, web.Response | None]:
        """(principal, None), or (None, the 401) when credentials are configured and missing or wrong."""
        if not self.config.credentials:
            return None, None
        principal = auth.authenticate(request.headers.get("Authorization"), self.config.credentials)
        if principal is None:
            return None, text(401, auth.UNAUTHORIZED_BODY, headers=auth.challenge(realm))
        return principal, None

    async def _read_call(self, request: web.Request, parse: Callable[[Any], dict]) -> tuple[Any, web.Response | None]:
        """What both /api/v1 endpoints check before validating their call, in Mesos' order: not the
        leader (307) or still recovering (503), the method, the Content-Type, the JSON, its conversion
        by ``parse``. (The call, None) or (None, the refusal)."""
        refused = self.guard(request)
        if refused is not None:
            return None, refused
        if request.method != "POST":
            return None, text(
                405, f"Expecting one of {{ 'POST' }}, but received '{request.method}'", headers={"Allow": "POST"}
            )
        content_type = request.headers.get("Content-Type")
        if content_type is None:
            return None, text(400, "Expecting 'Content-Type' to be present")
        body = await request.read()
        if content_type == APPLICATION_PROTOBUF:
            # Deviation: the simulator has no protobuf codec.
            return None, text(
                415,
                f"Expecting 'Content-Type' of {APPLICATION_JSON} "
                f"(the simulator does not support {APPLICATION_PROTOBUF})",
            )
        if content_type != APPLICATION_JSON:
            # Mesos compares the header verbatim: "application/json; charset=utf-8" is refused too.
            return None, text(415, f"Expecting 'Content-Type' of {APPLICATION_JSON} or {APPLICATION_PROTOBUF}")
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return None, text(400, f"Failed to parse body into JSON: {exc}")
        try:
            return parse(value), None
        except schema.ConversionError as exc:
            return None, text(400, f"Failed to convert JSON into Call protobuf: {exc}")

    async def handle_scheduler(self, request: web.Request) -> web.StreamResponse:
        # libprocess authenticates before the handler runs: 401 comes before 307 and 503.
        principal, refused = self._authenticate(request, auth.SCHEDULER_REALM)
        if refused is not None:
            return refused
        if self.call_latency_s > 0:
            # Each request sleeps on its own: other calls (and streams) go on meanwhile.
            self.delayed_calls += 1
            try:
                await asyncio.sleep(self.call_latency_s)
            finally:
                self.delayed_calls -= 1
        call, refused = await self._read_call(request, schema.parse_call)
        if refused is not None:
            return refused
        error = schema.validate_call(call) or principal_error(call, principal)
        if error is not None:
            return text(400, f"Failed to validate scheduler::Call: {error}")

        kind = call["type"]
        if kind in ("SUBSCRIBE", "RECONCILE_OPERATIONS"):
            accept = request.headers.get("Accept")
            if not accepts(accept, APPLICATION_JSON):
                if accepts(accept, APPLICATION_PROTOBUF):
                    # Deviation: a real master would stream protobuf here.
                    return text(
                        406,
                        f"Expecting 'Accept' to allow '{APPLICATION_JSON}' "
                        f"(the simulator does not support {APPLICATION_PROTOBUF})",
                    )
                return text(406, f"Expecting 'Accept' to allow '{APPLICATION_PROTOBUF}' or '{APPLICATION_JSON}'")
        if kind == "SUBSCRIBE":
            if STREAM_ID_HEADER in request.headers:
                return text(400, "Subscribe calls should not include the 'Mesos-Stream-Id' header")
            info = call["subscribe"]["framework_info"]
            if principal is not None and "principal" not in info:
                # Mesos sets FrameworkInfo.principal to the authenticated one (and logs a warning).
                info["principal"] = principal
            return await self._subscribe(request, call)

        framework_id = call["framework_id"]["value"]
        fw = self.state.frameworks.get(framework_id)
        if fw is None:
            return text(400, "Framework cannot be found")
        if principal is not None and principal != fw.info.get("principal", ""):
            return text(400, principal_mismatch(principal, fw.info.get("principal", "")))
        if not fw.connected:
            return text(403, "Framework is not subscribed")
        stream_id = request.headers.get(STREAM_ID_HEADER)
        if stream_id is None:
            return text(400, "All non-subscribe calls should include the 'Mesos-Stream-Id' header")
        if stream_id != fw.stream_id:
            return text(
                400,
                f"The stream ID '{stream_id}' included in this request didn't match "
                f"the stream ID currently associated with framework ID {framework_id}",
            )
        return self._dispatch(kind, framework_id, call)

    def _dispatch(self, kind: str, framework_id: str, call: dict) -> web.Response:
        state, t = self.state, self.clock()
        state.frameworks[framework_id].calls[kind] += 1
        fx: Effects | None = None
        if kind == "TEARDOWN":
            fx = state.teardown(t, framework_id)
            log.info("framework %s torn down", framework_id)
        elif kind == "ACCEPT":
            fx = state.accept(t, framework_id, call["accept"])
        elif kind == "DECLINE":
            fx = state.decline(t, framework_id, call["decline"])
        elif kind == "REVIVE":
            fx = state.revive(t, framework_id, call.get("revive", {}).get("roles", []))
        elif kind == "SUPPRESS":
            fx = state.suppress(t, framework_id, call.get("suppress", {}).get("roles", []))
        elif kind == "KILL":
            kill = call["kill"]
            fx = state.kill(t, framework_id, kill["task_id"]["value"], kill.get("agent_id", {}).get("value"))
        elif kind == "ACKNOWLEDGE":
            ack = call["acknowledge"]
            fx = state.acknowledge(t, framework_id, ack["agent_id"]["value"], ack["task_id"]["value"], ack["uuid"])
        elif kind == "RECONCILE":
            fx = state.reconcile(t, framework_id, call["reconcile"].get("tasks", []))
        elif kind == "UPDATE_FRAMEWORK":
            error, fx = state.update_framework(t, framework_id, call["update_framework"])
            self.apply(fx)
            if error is not None:
                return text(400, error)
            return web.Response(status=200)
        elif kind == "UNKNOWN":
            return web.Response(status=501)
        # SHUTDOWN, MESSAGE, REQUEST, inverse offers and operation calls are
        # validated above and otherwise not simulated.
        self.apply(fx)
        return web.Response(status=202)

    async def _subscribe(self, request: web.Request, call: dict) -> web.StreamResponse:
        stream_id = str(uuid.uuid4())
        result = self.state.subscribe(self.clock(), call, stream_id)
        response = web.StreamResponse(status=200, headers={STREAM_ID_HEADER: stream_id})
        response.content_type = APPLICATION_JSON
        response.enable_chunked_encoding()
        if result.refusal is not None:
            # The 200 and the pipe exist before the master looks at the
            # subscription, so a refusal is an ERROR event, then the end.
            log.info("subscription refused: %s", result.refusal)
            with contextlib.suppress(ConnectionError):
                await response.prepare(request)
                await response.write(record({"type": "ERROR", "error": {"message": result.refusal}}))
                await response.write_eof()
            return response

        # Register the stream before the first await so that no event emitted
        # meanwhile (an allocation, a timer) can miss it.
        stream = Stream(stream_id, result.framework_id, request)
        self.streams[stream_id] = stream
        stream.queue.put_nowait(record(result.subscribed))
        stream.queue.put_nowait(HEARTBEAT_RECORD)  # the heartbeater has no initial delay
        self.apply(result.effects)
        log.info("framework %s subscribed (stream %s)", result.framework_id, stream_id)
        try:
            await response.prepare(request)
            await stream.pump(response, self.config.heartbeat_interval_s, self.clock)
        except ConnectionError:
            pass
        finally:
            self.streams.pop(stream_id, None)
            if not stream.closing:
                log.info("framework %s disconnected (stream %s)", stream.framework_id, stream_id)
                self.apply(self.state.disconnect(self.clock(), stream.framework_id, stream_id))
        return response

    # -- HTTP: read-only master endpoints --

    # -- HTTP: /api/v1 (the operator API: GET_FRAMEWORKS only) --

    async def handle_operator(self, request: web.Request) -> web.Response:
        """``Master::Http::api``, in its order of checks; of the calls, only GET_FRAMEWORKS is answered."""
        if self.config.authenticate_readwrite:  # libprocess, before the handler
            _, refused = self._authenticate(request, auth.READWRITE_REALM)
            if refused is not None:
                return refused
        call, refused = await self._read_call(request, schema.parse_master_call)
        if refused is not None:
            return refused
        error = schema.validate_master_call(call)
        if error is not None:
            return text(400, f"Failed to validate master::Call: {error}")
        accept = request.headers.get("Accept")
        if not accepts(accept, APPLICATION_JSON):
            if accepts(accept, APPLICATION_PROTOBUF):
                return text(406, f"the simulator does not support {APPLICATION_PROTOBUF}")  # deviation
            return text(406, f"Expecting 'Accept' to allow '{APPLICATION_PROTOBUF}' or '{APPLICATION_JSON}'")
        kind = call["type"]
        if kind == "GET_FRAMEWORKS":
            return json_response(views.get_frameworks(self.state))
        if kind == "UNKNOWN":
            return web.Response(status=501)
        # Deviation: a real master answers every other call of the operator API.
        return text(501, f"the simulator does not implement the operator call {kind}")

    async def handle_version(self, request: web.Request) -> web.Response:
        refused = self.guard(request, redirect=False)
        return refused or json_response(views.version(self.state))

    async def handle_health(self, request: web.Request) -> web.Response:
        refused = self.guard(request, redirect=False)
        return refused or web.Response(status=200)

    def _readonly_guard(self, request: web.Request) -> web.Response | None:
        if self.config.authenticate_readonly:
            _, refused = self._authenticate(request, auth.READONLY_REALM)
            if refused is not None:
                return refused
        return self.guard(request)

    async def handle_slaves(self, request: web.Request) -> web.Response:
        refused = self._readonly_guard(request)
        return refused or json_response(views.slaves(self.state))

    async def handle_frameworks(self, request: web.Request) -> web.Response:
        refused = self._readonly_guard(request)
        return refused or json_response(views.frameworks(self.state))

    async def handle_state(self, request: web.Request) -> web.Response:
        refused = self._readonly_guard(request)
        return refused or json_response(views.master_state(self.state))


def create_sim_app(master: SimMaster) -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[control.MASTER_KEY] = master
    app.router.add_route("*", "/api/v1/scheduler", master.handle_scheduler)
    app.router.add_route("*", "/api/v1", master.handle_operator)
    app.router.add_get("/version", master.handle_version)
    app.router.add_get("/health", master.handle_health)
    for path in ("/master/slaves", "/slaves"):
        app.router.add_get(path, master.handle_slaves)
    for path in ("/master/frameworks", "/frameworks"):
        app.router.add_get(path, master.handle_frameworks)
    for path in ("/master/state", "/master/state.json", "/state", "/state.json"):
        app.router.add_get(path, master.handle_state)
    control.add_routes(app)
    return app


@dataclass
class SimHandle:
    """A running simulator: `url`, `master` (with `.state`) and `close()`."""

    url: str
    master: SimMaster
    _runner: web.AppRunner

    @property
    def state(self) -> MasterState:
        return self.master.state

    async def close(self) -> None:
        await self.master.stop()
        await self._runner.cleanup()

    async def __aenter__(self) -> SimHandle:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()


async def serve_sim(config: SimConfig, host: str = "127.0.0.1", port: int = 0) -> SimHandle:
    """Start a simulator on host:port (0 = an ephemeral port)."""
    master = SimMaster(config)
    app = create_sim_app(master)
    # handler_cancellation: a subscriber that hangs up cancels its stream handler,
    # which is how the master notices the disconnection at once.
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1.0, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound_port = runner.addresses[0][1]
    url_host = "127.0.0.1" if host in ("", "0.0.0.0") else ("::1" if host == "::" else host)
    master.state.set_address(url_host, bound_port)
    await master.start()
    shown = f"[{url_host}]" if ":" in url_host else url_host
    return SimHandle(url=f"http://{shown}:{bound_port}", master=master, _runner=runner)


def run_sim(config: SimConfig, host: str = "127.0.0.1", port: int = 5050, zk_url: str | None = None) -> int:
    """Serve until SIGTERM or SIGINT (registered in ZooKeeper at ``zk_url`` if given); the exit code."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return asyncio.run(_run(config, host, port, zk_url))


async def _run(config: SimConfig, host: str, port: int, zk_url: str | None = None) -> int:
    try:
        handle = await serve_sim(config, host, port)
    except OSError as exc:
        log.error("cannot listen on %s:%s: %s", host, port, exc)
        return 1
    log.info(
        "Mesos %s simulator listening on %s (%d agents, master id %s)",
        config.version,
        handle.url,
        len(handle.state.agents),
        handle.state.master_id,
    )
    try:
        registration = await zk_registration.register(handle, zk_url) if zk_url else None
    except zk_registration.RegistrationFailed as exc:
        log.error("%s", exc)
        await handle.close()
        return 1
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = (signal.SIGTERM, signal.SIGINT)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        log.info("simulator shutting down")
        if registration is not None:
            await registration.close()
        try:
            await asyncio.wait_for(handle.close(), timeout=5.0)
        except TimeoutError:  # pragma: no cover
            log.warning("simulator did not shut down within 5 s")
    return 0
