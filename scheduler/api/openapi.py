"""The API described as OpenAPI 3.0, served at ``/v6/openapi.json`` (and under every prefix).

Hand-written: one description per route, repeated under each prefix and version served. The
document a server returns lists only the routes that server registered (the ``api`` command has
no bench routes, a test app may have no database), so it never promises what is not there.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
from aiohttp import web

from scheduler import __version__
from scheduler.api.dashboard import FILES as DASHBOARD_FILES
from scheduler.api.load import MAX_JOB_TYPE_ID, MAX_JOB_TYPE_IDS

JSON = "application/json"


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def answer(description: str, schema: dict | None = None, headers: dict | None = None, media: str = JSON) -> dict:
    response: dict[str, Any] = {"description": description}
    if schema is not None:
        response["content"] = {media: {"schema": schema}}
    if headers:
        response["headers"] = headers
    return response


DETAIL = ref("Detail")
ERRORS = {
    "400": answer("A parameter or the body is not valid", DETAIL),
    "404": answer("No such resource, or a page past the last one", DETAIL),
}
UNAVAILABLE = {"503": answer("The database did not answer", DETAIL)}
AUTH_HEADERS = {"WWW-Authenticate": {"schema": {"type": "string"}}}
UNAUTHORIZED = {"401": answer("No token, or one not listed in API_TOKENS_FILE", DETAIL, AUTH_HEADERS)}
CACHE_HEADERS = {
    "ETag": {"schema": {"type": "string"}, "description": "strong; one per snapshot and content coding"},
    "Cache-Control": {"schema": {"type": "string", "enum": ["no-cache"]}},
    "Vary": {"schema": {"type": "string"}},
}
IF_NONE_MATCH = {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"}}
PAGE_PARAMS = [
    {"name": "page", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 1000000}},
    {
        "name": "page_size",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
    },
]
TIME_PARAMS = [
    {"name": name, "in": "query", "required": False, "schema": {"type": "string", "format": "date-time"}}
    for name in ("started", "ended")
]
JOB_TYPE_IDS = {
    "name": "job_type_id",
    "in": "query",
    "required": False,
    "style": "form",
    "explode": True,
    "schema": {
        "type": "array",
        "maxItems": MAX_JOB_TYPE_IDS,
        "items": {"type": "integer", "minimum": 0, "maximum": MAX_JOB_TYPE_ID},
    },
}
NODE_ID = {"name": "node_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}}


def page_of(item: str) -> dict:
    return {
        "type": "object",
        "required": ["count", "next", "previous", "results"],
        "properties": {
            "count": {"type": "integer", "minimum": 0},
            "next": {"type": "string", "nullable": True},
            "previous": {"type": "string", "nullable": True},
            "results": {"type": "array", "items": ref(item)},
        },
    }


def json_body(schema: str) -> dict:
    return {"required": True, "content": {JSON: {"schema": ref(schema)}}}


WRITE_ERRORS = {
    **ERRORS,
    **UNAUTHORIZED,
    **UNAVAILABLE,
    "413": answer("The body is too large", DETAIL),
    "415": answer("The body is not JSON", DETAIL),
}

# One entry per route, after "/<version>/" (or the full path where it has no version).
ROUTES: dict[str, dict[str, Any]] = {
    "version/": {
        "get": {"summary": "The scheduler's version", "responses": {"200": answer("Version", ref("Version"))}}
    },
    "status/": {
        "get": {
            "summary": "The whole status document of the newest snapshot (Scale's v6 System Status)",
            "parameters": [IF_NONE_MATCH],
            "responses": {
                "200": answer("The status document", ref("Status"), CACHE_HEADERS),
                "304": answer("The client has this snapshot already", None, CACHE_HEADERS),
                "503": answer("No snapshot yet, or the newest is stale", DETAIL),
            },
        }
    },
    "queue/status/": {
        "get": {
            "summary": "Queued jobs by job type, with the reasons they wait",
            "parameters": [*PAGE_PARAMS, IF_NONE_MATCH],
            "responses": {
                "200": answer("One page of job types", page_of("QueueTypeStatus"), CACHE_HEADERS),
                "304": answer("The client has this page already", None, CACHE_HEADERS),
                **ERRORS,
                **UNAVAILABLE,
            },
        }
    },
    "load/": {
        "get": {
            "summary": "Job counts over time, one point a minute; with job_type_id (repeated), of those job types only",
            "parameters": [*PAGE_PARAMS, *TIME_PARAMS, JOB_TYPE_IDS],
            "responses": {"200": answer("One page of points", page_of("LoadPoint")), **ERRORS},
        }
    },
    "accounts/profile/": {
        "get": {
            "summary": "Who the caller is (the name of its bearer token), as Scale's UI asks when its "
            "authentication is on",
            "security": [{"bearer": []}],
            "responses": {"200": answer("The caller", ref("Profile")), **UNAUTHORIZED},
        }
    },
    "scheduler/": {
        "get": {
            "summary": "The scheduler's settings",
            "responses": {"200": answer("The settings", ref("Scheduler")), **UNAVAILABLE},
        },
        "patch": {
            "summary": "Change the scheduler's settings (pause or resume it, handlers, logging level)",
            "security": [{"bearer": []}],
            "requestBody": json_body("SchedulerPatch"),
            "responses": {"200": answer("The settings as changed", ref("Scheduler")), **WRITE_ERRORS},
        },
    },
    "nodes/": {
        "get": {
            "summary": "The nodes the scheduler has seen",
            "parameters": [
                *PAGE_PARAMS,
                {"name": "is_active", "in": "query", "required": False, "schema": {"type": "boolean"}},
            ],
            "responses": {"200": answer("One page of nodes", page_of("Node")), **ERRORS, **UNAVAILABLE},
        }
    },
    "nodes/{node_id}/": {
        "get": {
            "summary": "One node",
            "parameters": [NODE_ID],
            "responses": {"200": answer("The node", ref("Node")), **ERRORS, **UNAVAILABLE},
        },
        "patch": {
            "summary": "Pause, resume, deactivate or reactivate one node",
            "parameters": [NODE_ID],
            "security": [{"bearer": []}],
            "requestBody": json_body("NodePatch"),
            "responses": {"200": answer("The node as changed", ref("Node")), **WRITE_ERRORS},
        },
    },
    "events/": {
        "get": {
            "summary": "Server-sent events: node, scheduler, job type and dependency changes",
            "responses": {"200": answer("An endless event stream", {"type": "string"}, media="text/event-stream")},
        }
    },
    "openapi.json": {
        "get": {"summary": "This document", "responses": {"200": answer("OpenAPI 3.0", {"type": "object"})}}
    },
}
UNVERSIONED: dict[str, dict[str, Any]] = {
    **{
        path: {
            "get": {
                "summary": f"The dashboard: {name}",
                "parameters": [IF_NONE_MATCH],
                "responses": {
                    "200": answer(name, {"type": "string"}, media=content_type.split(";")[0]),
                    "304": answer("The client has this file already"),
                },
            }
        }
        for path, (name, content_type) in DASHBOARD_FILES.items()
    },
    "/livez": {
        "get": {
            "summary": "Liveness: 200 while snapshots are fresh",
            "responses": {"200": answer("Alive", {"type": "object"}), "503": answer("Wedged", DETAIL)},
        }
    },
    "/readyz": {
        "get": {
            "summary": "Readiness: subscribed, fresh snapshot, database working",
            "responses": {"200": answer("Ready", {"type": "object"}), "503": answer("Not ready, and why", DETAIL)},
        }
    },
    "/metrics": {
        "get": {
            "summary": "Prometheus metrics",
            "responses": {"200": answer("Prometheus text format", {"type": "string"}, media="text/plain")},
        }
    },
    "/bench/status-copy/": {
        "get": {
            "summary": "Benchmark baseline (BENCH_ROUTES only): the first status, from memory",
            "responses": {"200": answer("Bytes", {"type": "object"}), "503": answer("No status yet")},
        }
    },
    "/bench/status-copy-gzip/": {
        "get": {
            "summary": "Benchmark baseline (BENCH_ROUTES only): the first status, gzip-compressed once",
            "responses": {"200": answer("Bytes", {"type": "object"}), "503": answer("No status yet")},
        }
    },
}

LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
TIME = {"type": "string", "format": "date-time"}
SCHEMAS: dict[str, Any] = {
    "Detail": {"type": "object", "required": ["detail"], "properties": {"detail": {"type": "string"}}},
    "Version": {"type": "object", "required": ["version"], "properties": {"version": {"type": "string"}}},
    "Status": {
        "type": "object",
        "description": "Scale's v6 status document: see the seed's System Services for every field",
        "properties": {
            "timestamp": TIME,
            "scheduler": {"type": "object"},
            "system": {"type": "object"},
            "num_offers": {"type": "integer"},
            "resources": {"type": "object"},
            "job_types": {"type": "array", "items": {"type": "object"}},
            "nodes": {"type": "array", "items": {"type": "object"}},
            "dependencies": {"type": "object"},
        },
    },
    "JobType": {
        "type": "object",
        "required": ["id", "name", "version", "title", "description", "is_system", "icon_code"],
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "version": {"type": "string"},
            "title": {"type": "string"},
            "description": {"type": "string"},
            "is_system": {"type": "boolean"},
            "is_long_running": {"type": "boolean"},
            "is_active": {"type": "boolean"},
            "is_operational": {"type": "boolean"},
            "is_paused": {"type": "boolean"},
            "icon_code": {"type": "string"},
        },
    },
    "QueueTypeStatus": {
        "type": "object",
        "required": ["job_type", "count", "longest_queued", "highest_priority", "pending_reasons"],
        "properties": {
            "job_type": ref("JobType"),
            "count": {"type": "integer", "minimum": 1},
            "longest_queued": TIME,
            "highest_priority": {"type": "integer", "description": "the smallest priority number queued"},
            "pending_reasons": {
                "type": "object",
                "description": "jobs left unplaced in the last scheduling cycle, by reason",
                "additionalProperties": {"type": "integer", "minimum": 0},
            },
        },
    },
    "LoadPoint": {
        "type": "object",
        "required": ["time", "pending_count", "queued_count", "running_count"],
        "properties": {
            "time": TIME,
            "pending_count": {"type": "integer", "minimum": 0},
            "queued_count": {"type": "integer", "minimum": 0},
            "running_count": {"type": "integer", "minimum": 0},
        },
    },
    "Profile": {
        "type": "object",
        "required": ["id", "username", "email", "first_name", "last_name", "is_staff"],
        "properties": {
            "id": {"type": "integer", "nullable": True},
            "username": {"type": "string"},
            "email": {"type": "string"},
            "first_name": {"type": "string"},
            "last_name": {"type": "string"},
            "is_staff": {"type": "boolean"},
        },
    },
    "Scheduler": {
        "type": "object",
        "required": ["is_paused", "num_message_handlers", "system_logging_level"],
        "properties": {
            "is_paused": {"type": "boolean"},
            "num_message_handlers": {"type": "integer", "minimum": 0},
            "system_logging_level": {"type": "string"},
        },
    },
    "SchedulerPatch": {
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "properties": {
            "is_paused": {"type": "boolean"},
            "num_message_handlers": {"type": "integer", "minimum": 0, "maximum": 100},
            "system_logging_level": {"type": "string", "enum": LEVELS},
        },
    },
    "Node": {
        "type": "object",
        "required": ["id", "hostname", "is_paused", "is_active", "deprecated", "created", "last_modified"],
        "properties": {
            "id": {"type": "integer"},
            "hostname": {"type": "string"},
            "pause_reason": {"type": "string", "nullable": True},
            "is_paused": {"type": "boolean"},
            "is_active": {"type": "boolean"},
            "deprecated": {**TIME, "nullable": True},
            "created": TIME,
            "last_modified": TIME,
        },
    },
    "NodePatch": {
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "properties": {
            "is_paused": {"type": "boolean"},
            "pause_reason": {
                "type": "string",
                "maxLength": 250,
                "nullable": True,
                "pattern": "^[^\\x00-\\x1f\\x7f-\\x9f]*$",
            },
            "is_active": {"type": "boolean"},
        },
    },
}


def document(prefixes: tuple[str, ...] = ("", "/api"), versions: tuple[str, ...] = ("v6", "v7")) -> dict[str, Any]:
    paths: dict[str, Any] = dict(copy.deepcopy(UNVERSIONED))
    for prefix in prefixes:
        for version in versions:
            for path, item in ROUTES.items():
                paths[f"{prefix}/{version}/{path}"] = copy.deepcopy(item)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "scale-scheduler",
            "version": __version__,
            "description": "Scale's v6 system API and the scheduler's own resources. Reads are open unless "
            "API_READ_TOKEN_REQUIRED is set (then every v6 route needs the bearer token too); writes always "
            "need a bearer token listed in API_TOKENS_FILE.",
        },
        "paths": paths,
        "components": {
            "schemas": copy.deepcopy(SCHEMAS),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def registered(app: web.Application) -> dict[str, set[str]]:
    """{path template: methods} of every route ``app`` answers (HEAD is implied by GET)."""
    routes: dict[str, set[str]] = {}
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        if path and route.method not in ("HEAD", "*"):
            routes.setdefault(path, set()).add(route.method.lower())
    return routes


def for_app(app: web.Application) -> dict[str, Any]:
    """The document, narrowed to the routes and methods ``app`` registered."""
    full = document()
    served = registered(app)
    paths = {}
    for path, item in full["paths"].items():
        methods = {m: op for m, op in item.items() if m in served.get(path, ())}
        if methods:
            paths[path] = methods
    full["paths"] = paths
    return full


def openapi_handler(app: web.Application):
    body: list[bytes] = []

    async def get_openapi(_request: web.Request) -> web.Response:
        if not body:  # the routes are all registered by the first request
            body.append(orjson.dumps(for_app(app)))
        return web.Response(body=body[0], content_type=JSON)

    return get_openapi
