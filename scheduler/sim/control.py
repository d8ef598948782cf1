"""The simulator's control API under /sim/: JSON in, JSON out.

Not part of Mesos: it lets tests, benchmarks and humans change the simulated
cluster (agents, usage, master failures, task outcomes). Bad input answers 4xx
with {"detail": "why"}. The control API keeps working while the simulated
master is down or not the leader.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import orjson
from aiohttp import web
from yarl import URL

from scheduler.sim import views
from scheduler.sim.effects import ControlError
from scheduler.sim.options import MAX_CALL_LATENCY_MS, parse_port_ranges
from scheduler.sim.outcomes import OutcomeError
from scheduler.sim.resources import Resources

if TYPE_CHECKING:
    from scheduler.sim.server import SimMaster

MAX_AGENTS_PER_REQUEST = 100_000
MAX_AGENTS = 100_000  # registered at once
MAX_BODY_BYTES = 1024 * 1024
MAX_SECONDS = 3600.0  # down_seconds, silence seconds
# Per-agent resource bounds (and for outside usage): far above any real agent, finite.
RESOURCE_BOUNDS = {"cpus": 100_000.0, "mem": 1e9, "disk": 1e10, "gpus": 10_000.0}
MAX_ATTRIBUTES = 100
MAX_TEXT = 1024
MASTER_KEY = web.AppKey("sim_master")  # the SimMaster serving this app


def _json(data, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(data), content_type="application/json")


def _fail(status: int, detail: str) -> web.Response:
    return _json({"detail": detail}, status)


async def _body(request: web.Request, *, optional: bool = False) -> dict:
    too_big = ControlError(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise too_big
    chunks, size = [], 0
    while chunk := await request.content.read(64 * 1024):
        size += len(chunk)
        if size > MAX_BODY_BYTES:  # chunked bodies have no Content-Length
            raise too_big
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        if optional:
            return {}
        raise ControlError(400, "expected a JSON object body")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ControlError(400, f"invalid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ControlError(400, "expected a JSON object body")
    return data


def _number(data: dict, key: str, *, maximum: float, default=None, minimum: float = 0.0) -> float | None:
    """A finite JSON number within [minimum, maximum]; 400 naming the field otherwise."""
    value = data.get(key, default)
    if value is None:
        return None
    bounds = f"{key} must be a finite number from {minimum:g} to {maximum:g}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ControlError(400, bounds)
    try:
        number = float(value)
    except OverflowError:  # an integer beyond any float
        raise ControlError(400, bounds) from None
    if not math.isfinite(number) or not minimum <= number <= maximum:
        raise ControlError(400, bounds)
    return number


def _text_field(data: dict, key: str, *, limit: int = MAX_TEXT) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > limit:
        raise ControlError(400, f"{key} must be a non-empty string of at most {limit} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ControlError(400, f"{key} must not contain control characters")
    return value


def _resources(data: dict) -> dict:
    return {key: _number(data, key, maximum=limit) for key, limit in RESOURCE_BOUNDS.items()}


def _handler(fn: Callable[..., Awaitable[web.Response]]):
    @functools.wraps(fn)
    async def wrapper(request: web.Request) -> web.Response:
        # JSON only: a cross-site form or text/plain POST (no CORS preflight) cannot steer the simulator.
        if request.method in ("POST", "PUT") and request.content_type != "application/json":
            return _fail(415, "Content-Type must be application/json")
        try:
            return await fn(request, request.app[MASTER_KEY])
        except ControlError as exc:
            return _fail(exc.status, exc.detail)
        except (OutcomeError, ValueError) as exc:
            return _fail(400, str(exc))

    return wrapper


@_handler
async def get_state(request: web.Request, master: SimMaster) -> web.Response:
    return _json(views.sim_state(master.state, master.runtime()))


@_handler
async def post_agents(request: web.Request, master: SimMaster) -> web.Response:
    data = await _body(request, optional=True)
    unknown = set(data) - {"count", "cpus", "mem", "disk", "gpus", "ports", "hostname", "attributes"}
    if unknown:
        raise ControlError(400, f"unknown field(s): {', '.join(sorted(unknown))}")
    count = data.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_AGENTS_PER_REQUEST:
        raise ControlError(400, f"count must be an integer from 1 to {MAX_AGENTS_PER_REQUEST}")
    if len(master.state.agents) + count > MAX_AGENTS:
        raise ControlError(400, f"count: at most {MAX_AGENTS} agents can be registered at once")
    kwargs = _resources(data)
    ports = data.get("ports")
    if ports is not None:
        if not isinstance(ports, str) or len(ports) > MAX_TEXT:
            raise ControlError(400, 'ports must be a string such as "31000-32000"')
        parse_port_ranges(ports)
    hostname = _text_field(data, "hostname", limit=255)
    if hostname is not None and any(c.isspace() or c in "/\\" for c in hostname):
        raise ControlError(400, "hostname must not contain spaces or slashes")
    attributes = _attributes(data.get("attributes", {}))
    agents = master.add_agents(count, ports=ports, hostname=hostname, attributes=attributes, **kwargs)
    return _json({"agents": [{"id": a.id, "hostname": a.hostname} for a in agents]}, 201)


def _attributes(attributes) -> dict:
    if not isinstance(attributes, dict) or len(attributes) > MAX_ATTRIBUTES:
        raise ControlError(400, f"attributes must be an object of at most {MAX_ATTRIBUTES} text or number values")
    for name, value in attributes.items():
        _text_field({"attributes key": name}, "attributes key", limit=128)
        if isinstance(value, str):
            _text_field({f"attributes.{name}": value}, f"attributes.{name}")
        else:
            _number({f"attributes.{name}": value}, f"attributes.{name}", minimum=-1e15, maximum=1e15)
    return attributes


@_handler
async def delete_agent(request: web.Request, master: SimMaster) -> web.Response:
    agent_id = request.match_info["agent_id"]
    master.remove_agent(agent_id)
    return _json({"removed": agent_id})


@_handler
async def post_partition(request: web.Request, master: SimMaster) -> web.Response:
    agent_id = request.match_info["agent_id"]
    if await _body(request, optional=True):
        raise ControlError(400, "expected an empty body or {}")
    master.partition(agent_id)
    config = master.config
    unreachable_in = config.agent_ping_timeout_s * config.max_agent_ping_timeouts
    return _json({"agent_id": agent_id, "partitioned": True, "unreachable_in_seconds": unreachable_in})


@_handler
async def post_heal(request: web.Request, master: SimMaster) -> web.Response:
    agent_id = request.match_info["agent_id"]
    if await _body(request, optional=True):
        raise ControlError(400, "expected an empty body or {}")
    was_unreachable = master.state.agents.get(agent_id) is not None and (
        master.state.agents[agent_id].unreachable_since is not None
    )
    master.heal(agent_id)
    return _json({"agent_id": agent_id, "partitioned": False, "was_unreachable": was_unreachable})


@_handler
async def put_usage(request: web.Request, master: SimMaster) -> web.Response:
    agent_id = request.match_info["agent_id"]
    data = await _body(request)
    _resources(data)  # bounds; from_model checks the fields
    try:
        usage = Resources.from_model(data)
    except ValueError as exc:
        raise ControlError(400, str(exc)) from None
    fx = master.set_usage(agent_id, usage)
    rescinded = [e["rescind"]["offer_id"]["value"] for _, e in fx.events if e["type"] == "RESCIND"]
    agent = master.state.agents[agent_id]
    return _json({"agent_id": agent_id, "used_by_others": agent.other_used.to_model(), "rescinded_offers": rescinded})


@_handler
async def post_restart(request: web.Request, master: SimMaster) -> web.Response:
    data = await _body(request, optional=True)
    down = _number(data, "down_seconds", default=0.0, maximum=MAX_SECONDS)
    master.restart(down)
    return _json({"down_seconds": down, "down_until": master.down_until, "master_id": master.state.master_id})


@_handler
async def post_silence(request: web.Request, master: SimMaster) -> web.Response:
    data = await _body(request)
    seconds = _number(data, "seconds", maximum=MAX_SECONDS)
    if seconds is None:
        raise ControlError(400, "seconds is required")
    count = master.silence(seconds)
    return _json({"silenced_streams": count, "seconds": seconds})


@_handler
async def get_latency(request: web.Request, master: SimMaster) -> web.Response:
    return _json({"ms": master.call_latency_s * 1000.0, "delayed_calls": master.delayed_calls})


@_handler
async def put_latency(request: web.Request, master: SimMaster) -> web.Response:
    data = await _body(request)
    unknown = set(data) - {"ms"}
    if unknown or "ms" not in data:
        raise ControlError(400, 'expected {"ms": milliseconds}')
    ms = _number(data, "ms", maximum=MAX_CALL_LATENCY_MS)
    master.set_latency(ms)
    return _json({"ms": ms})


@_handler
async def put_leader(request: web.Request, master: SimMaster) -> web.Response:
    data = await _body(request)
    if "redirect_to" not in data:
        raise ControlError(400, 'expected {"redirect_to": "http://host:port"} or {"redirect_to": null}')
    target = data["redirect_to"]
    if target is not None:
        if not isinstance(target, str) or len(target) > MAX_TEXT:
            raise ControlError(400, "redirect_to must be a URL string or null")
        try:
            url = URL(target)
            url.port  # noqa: B018 - a malformed port raises
        except ValueError:
            raise ControlError(400, "redirect_to must look like http://host:port") from None
        if url.scheme not in ("http", "https") or not url.host or any(ord(c) < 33 for c in target):
            raise ControlError(400, "redirect_to must look like http://host:port")
    master.set_leader(target)
    return _json({"redirect_to": target, "leader": target is None})


@_handler
async def post_outcome(request: web.Request, master: SimMaster) -> web.Response:
    data = await _body(request)
    rule = master.state.outcomes.add_rule(data)
    return _json(rule.to_json(), 201)


@_handler
async def get_outcomes(request: web.Request, master: SimMaster) -> web.Response:
    return _json({"rules": [rule.to_json() for rule in master.state.outcomes.rules]})


@_handler
async def delete_outcomes(request: web.Request, master: SimMaster) -> web.Response:
    count = len(master.state.outcomes.rules)
    master.state.outcomes.clear_rules()
    return _json({"deleted": count})


@_handler
async def put_task(request: web.Request, master: SimMaster) -> web.Response:
    task_id = request.match_info["task_id"]
    data = await _body(request)
    task = master.end_task(task_id, data, request.query.get("framework_id"))
    return _json(
        {"task_id": task.id, "framework_id": task.framework_id, "state": task.state, "outcome": task.outcome.to_json()}
    )


def add_routes(app: web.Application) -> None:
    """Handlers find the SimMaster in app[MASTER_KEY]."""
    r = app.router
    r.add_get("/sim/state", get_state)
    r.add_post("/sim/agents", post_agents)
    r.add_delete("/sim/agents/{agent_id}", delete_agent)
    r.add_put("/sim/agents/{agent_id}/usage", put_usage)
    r.add_post("/sim/agents/{agent_id}/partition", post_partition)
    r.add_post("/sim/agents/{agent_id}/heal", post_heal)
    r.add_post("/sim/master/restart", post_restart)
    r.add_post("/sim/master/silence", post_silence)
    r.add_put("/sim/master/leader", put_leader)
    r.add_get("/sim/master/latency", get_latency)
    r.add_put("/sim/master/latency", put_latency)
    r.add_post("/sim/outcomes", post_outcome)
    r.add_get("/sim/outcomes", get_outcomes)
    r.add_delete("/sim/outcomes", delete_outcomes)
    r.add_put("/sim/tasks/{task_id}", put_task)
