"""The aiohttp application factory: the same wiring for the daemon, the api command and the tests."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from scheduler import __version__
from scheduler.api.accounts import profile_handler
from scheduler.api.auth import TokenFile, auth_middleware
from scheduler.api.control import call, control_routes
from scheduler.api.dashboard import add_dashboard_routes
from scheduler.api.encodings import compress
from scheduler.api.errors import json_errors
from scheduler.api.event_stream import add_event_routes
from scheduler.api.health import HealthSources, health_routes
from scheduler.api.load import SAMPLE_INTERVAL_S, LoadHistory, LoadSample, load_handler
from scheduler.api.openapi import openapi_handler
from scheduler.api.queue_status import QueueSource, queue_status_handler
from scheduler.api.representation import send
from scheduler.api.status import StatusSource, status_handler
from scheduler.api.vault_tokens import VaultTokens
from scheduler.config import Settings
from scheduler.store.database import Database
from scheduler.store.v6_resources import job_counts_by_type

log = logging.getLogger(__name__)

API_VERSIONS = ("v6", "v7")  # Scale serves both, identically
# Scale's UI image asks for /api/v6/... and forwards /api unchanged: both prefixes serve every route.
API_PREFIXES = ("", "/api")
VERSION_BODY = orjson.dumps({"version": __version__})


async def get_version(_request: web.Request) -> web.Response:
    return web.Response(body=VERSION_BODY, content_type="application/json")


def bench_copy_handlers(status: StatusSource):
    """The benchmark's baselines: the status bytes of the first request (plain, and gzip-compressed
    once), from memory, with no checks.

    Served by the same server as /v6/status/, so the two can be loaded side by side.
    """
    frozen: dict[str, bytes] = {}

    def handler(coding: str | None):
        async def get_copy(request: web.Request) -> web.StreamResponse:
            if not frozen:
                snapshot = status.current()
                if snapshot is None:
                    return web.Response(status=503)
                frozen["plain"] = bytes(snapshot.body)
                frozen["gzip"] = compress(frozen["plain"], "gzip")
            body = frozen[coding or "plain"]
            return await send(request, body, etag='"bench"', coding=coding)

        return get_copy

    return handler(None), handler("gzip")


def v6_paths(path: str) -> list[str]:
    """``path`` (after the version, e.g. ``status/``) under every prefix and version served."""
    return [f"{prefix}/{version}/{path}" for prefix in API_PREFIXES for version in API_VERSIONS]


def load_sampler(status: StatusSource | None, database: Database | None):
    async def sample() -> LoadSample | None:
        snapshot = status.current() if status is not None else None
        if snapshot is not None and snapshot.view is not None:
            view = snapshot.view
            by_type = {q.job_type_id: (q.count, 0) for q in view.queue}
            for job_type_id, running in view.running_by_type:
                by_type[job_type_id] = (by_type.get(job_type_id, (0, 0))[0], running)
            return LoadSample(sum(q.count for q in view.queue), view.running_count, by_type)
        if database is not None:
            return LoadSample.of(await call(database, job_counts_by_type))
        return None

    return sample


def run_in_background(make: Callable[[], Awaitable[None]]):
    """A cleanup context running ``make()`` for the application's lifetime."""

    async def context(_app: web.Application):
        task = asyncio.create_task(make())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return context


def vault_tokens(settings: Settings | None) -> VaultTokens | None:
    if settings is None or not settings.api_tokens_vault_path:
        return None
    if not settings.secrets_url or not settings.secrets_token:
        log.error("API_TOKENS_VAULT_PATH is set but SECRETS_URL or SECRETS_TOKEN is not: no tokens from Vault")
        return None
    return VaultTokens(settings.secrets_url, settings.secrets_token, settings.api_tokens_vault_path)


def create_app(
    *,
    status: StatusSource | None = None,
    health: HealthSources | None = None,
    bench_routes: bool = False,
    database: Database | None = None,
    settings: Settings | None = None,
    on_change: Callable[[], Awaitable[None]] | None = None,
    load_interval_s: float = SAMPLE_INTERVAL_S,
) -> web.Application:
    """The API. With a ``database``, also Scale's scheduler, nodes, queue status and load resources;
    ``settings`` name the tokens that may change things; ``on_change`` is awaited after each change
    (a running scheduler reads its flags then, instead of on its next sync)."""
    # Scale's Django redirects /v6/status to /v6/status/ (APPEND_SLASH); clients rely on it.
    slash = web.normalize_path_middleware(
        append_slash=True, merge_slashes=False, redirect_class=web.HTTPMovedPermanently
    )
    vault = vault_tokens(settings)
    tokens = TokenFile(settings.api_tokens_file if settings else None, also=vault)
    auth = auth_middleware(tokens, settings.api_read_token_required if settings else False)
    app = web.Application(middlewares=[json_errors, slash, auth])
    if vault is not None:
        app.cleanup_ctx.append(run_in_background(vault.run))
    if health is not None:
        health_routes(app, health)
    for path in v6_paths("version/"):
        app.router.add_get(path, get_version)  # add_get also answers HEAD
    get_profile = profile_handler(tokens)  # Scale's UI asks it first when its authentication is on
    for path in v6_paths("accounts/profile/"):
        app.router.add_get(path, get_profile)
    if status is not None:
        get_status = status_handler(status)
        for path in v6_paths("status/"):
            app.router.add_get(path, get_status)
    if status is not None or database is not None:
        get_queue_status = queue_status_handler(QueueSource(status, database))
        for path in v6_paths("queue/status/"):
            app.router.add_get(path, get_queue_status)
        history = LoadHistory(load_sampler(status, database), load_interval_s)
        app.cleanup_ctx.append(run_in_background(history.run))
        for path in v6_paths("load/"):
            app.router.add_get(path, load_handler(history))
    if database is not None:
        control_routes(app, v6_paths, database, on_change)
    if status is not None:
        add_event_routes(app, status, v6_paths("events/"))
    add_dashboard_routes(app)
    if bench_routes and status is not None:
        plain, gzipped = bench_copy_handlers(status)
        app.router.add_get("/bench/status-copy/", plain)
        app.router.add_get("/bench/status-copy-gzip/", gzipped)
    get_openapi = openapi_handler(app)
    for path in v6_paths("openapi.json"):
        app.router.add_get(path, get_openapi)
    return app
