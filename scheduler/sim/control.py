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
from scheduler.sim.config import parse_port_ranges
from scheduler.sim.effects import ControlError
from scheduler.sim.outcomes import OutcomeError
from scheduler.sim.resources import Resources

if TYPE_CHECKING:
    from scheduler.sim.server import SimMaster

MAX_AGENTS_PER_REQUEST = 100_000
MASTER_KEY = web.AppKey("sim_master")  # the SimMaster serving this app


def _json(data, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(data), content_type="application/json")


def _fail(status: int, detail: str) -> web.Response:
    return _json({"detail": detail}, status)


async def _body(request: web.Request, *, optional: bool = False) -> dict:
    raw = await request.read()
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


def _number(data: dict, key: str, *, default=None, minimum: float = 0.0) -> float | None:
    value = data.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ControlError(400, f"{key} must be a finite number")
    if value < minimum:
        raise ControlError(400, f"{key} must be >= {minimum:g}")
    return float(value)


def _handler(fn: Callable[..., Awaitable[web.Response]]):
    @functools.wraps(fn)
    async def wrapper(request: web.Request) -> web.Response:
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
    kwargs = {key: _number(data, key) for key in ("cpus", "mem", "disk", "gpus")}
    ports = data.get("ports")
    if ports is not None:
        if not isinstance(ports, str):
            raise ControlError(400, 'ports must be a string such as "31000-32000"')
        parse_port_ranges(ports)
    hostname = data.get("hostname")
    if hostname is not None and (not isinstance(hostname, str) or not hostname):
        raise ControlError(400, "hostname must be a non-empty string")
    attributes = data.get("attributes", {})
    if not isinstance(attributes, dict) or not all(
        isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in attributes.values()
    ):
        raise ControlError(400, "attributes must be an object of text or number values")
    agents = master.add_agents(count, ports=ports, hostname=hostname, attributes=attributes, **kwargs)
    return _json({"agents": [{"id": a.id, "hostname": a.hostname} for a in agents]}, 201)


@_handler
async def delete_agent(request: web.Request, master: SimMaster) -> web.Response:
    agent_id = request.match_info["agent_id"]
    master.remove_agent(agent_id)
    return _json({"removed": agent_id})


@_handler
async def put_usage(request: web.Request, master: SimMaster) -> web.Response:
    agent_id = request.match_info["agent_id"]
    data = await _body(request)
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
    down = _number(data, "down_seconds", default=0.0)
    master.restart(down)
    return _json({"down_seconds": down, "down_until": master.down_until, "master_id": master.state.master_id})


@_handler
async def post_silence(request: web.Request, master: SimMaster) -> web.Response:
    data = await _body(request)
    seconds = _number(data, "seconds")
    if seconds is None:
        raise ControlError(400, "seconds is required")
    count = master.silence(seconds)
    return _json({"silenced_streams": count, "seconds": seconds})


@_handler
async def put_leader(request: web.Request, master: SimMaster) -> web.Response:
    data = await _body(request)
    if "redirect_to" not in data:
        raise ControlError(400, 'expected {"redirect_to": "http://host:port"} or {"redirect_to": null}')
    target = data["redirect_to"]
    if target is not None:
        if not isinstance(target, str):
            raise ControlError(400, "redirect_to must be a URL string or null")
        url = URL(target)
        if url.scheme not in ("http", "https") or not url.host:
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
    r.add_post("/sim/master/restart", post_restart)
    r.add_post("/sim/master/silence", post_silence)
    r.add_put("/sim/master/leader", put_leader)
    r.add_post("/sim/outcomes", post_outcome)
    r.add_get("/sim/outcomes", get_outcomes)
    r.add_delete("/sim/outcomes", delete_outcomes)
    r.add_put("/sim/tasks/{task_id}", put_task)
