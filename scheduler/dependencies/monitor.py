"""The dependency monitor: one asyncio task per probe, each on its own cadence, results cached.

Each probe runs every ``probe_interval_s`` (a run that overruns is followed by the next at once),
bounded by ``probe_timeout_s`` plus a small grace: the probes' own client-level timeouts end
their calls at ``probe_timeout_s`` and name the cause; the outer bound only catches what slips
past them. Whatever happens (an error, an exception, a hang, a bug in a probe) ends up as that
probe's cached section; nothing propagates and no other probe waits for it.

``sections()`` only reads the cache, so the status snapshot never waits for a dependency. Every
section is masked against the configured secrets before it is cached, and failure details are
logged (masked) when they change, once, not on every run.

Blocking clients (SQLAlchemy, kombu, elasticsearch, hvac) run on one ``ThreadSlot`` per probe:
at most one thread per probe, and a run that finds the previous call still hung is skipped and
reported as timed out rather than piling up threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from scheduler.config import Settings
from scheduler.dependencies import (
    database_probe,
    elastic_probe,
    idam_probe,
    logs_probe,
    msg_queue_probe,
    nodes_probe,
    silo_probe,
    vault_probe,
)
from scheduler.dependencies.common import (
    JSON,
    CheckStillRunning,
    ThreadSlot,
    describe,
    exception_text,
    mask_section,
    timed_out,
)
from scheduler.redact import mask_text
from scheduler.timefmt import iso
from scheduler.tls import client_ssl_context

log = logging.getLogger("scheduler.dependencies")

# The order of Scale's documented example (docs/rest/v6/system.rst).
DEPENDENCIES = ("logs", "msg_queue", "database", "elasticsearch", "nodes", "idam", "silo")
PROBES = (*DEPENDENCIES, "vault")
TITLES = {
    "logs": "Logs",
    "msg_queue": "Message queue",
    "database": "Database",
    "elasticsearch": "Elasticsearch",
    "nodes": "Nodes",
    "idam": "IdAM",
    "silo": "Silo",
}
_NUMBERS = re.compile(r"\d+(\.\d+)?")
DEFAULT_GRACE_S = 1.0
STOP_WAIT_S = 1.5


@dataclass(frozen=True, slots=True)
class ProbeResult:
    section: JSON
    taken_at: float  # the clock's time when the result was stored
    duration_s: float

    @property
    def ok(self) -> bool:
        if "OK" in self.section:
            return bool(self.section["OK"])
        return self.section.get("status") in (vault_probe.OK, vault_probe.NOT_CONFIGURED)


def pending_section(name: str) -> JSON:
    if name == "vault":
        return vault_probe.pending()
    return {
        "OK": False,
        "detail": {"msg": f"{TITLES[name]} check pending: no result yet"},
        "errors": [],
        "warnings": [],
    }


@dataclass
class _Probe:
    name: str
    run: Callable[[], Awaitable[JSON]]
    failed: Callable[[str], JSON]  # the section for a cause that ended the run from outside
    interval_s: float


class _Details:
    """Collects the (masked) failure details a probe reports during one run, for the log."""

    def __init__(self, secrets: list[str]) -> None:
        self.secrets = secrets
        self.items: list[str] = []

    def __call__(self, text: str) -> None:
        self.items.append(mask_text(text, self.secrets))

    def take(self) -> list[str]:
        items, self.items = self.items, []
        return items


class DependencyMonitor:
    """Probes the scheduler's dependencies in the background; ``sections()`` serves the cache.

    ``overrides`` (for tests and special deployments):

    * ``idam_scheme``: scheme of the GEOAxIS login URL (default ``https``);
    * ``intervals``: ``{probe name: seconds}`` replacing ``probe_interval_s`` for some probes;
    * ``timeout_grace_s``: how far past ``probe_timeout_s`` the outer bound cuts a run (default 1 s).
    """

    def __init__(
        self,
        settings: Settings,
        database: Any,
        *,
        num_message_handlers: Callable[[], int],
        node_states: Callable[[], list[str]],
        clock: Callable[[], float] = time.time,
        **overrides: Any,
    ) -> None:
        unknown = set(overrides) - {"idam_scheme", "intervals", "timeout_grace_s"}
        if unknown:
            raise TypeError(f"unknown DependencyMonitor overrides: {', '.join(sorted(unknown))}")
        intervals: dict[str, float] = dict(overrides.get("intervals") or {})
        if set(intervals) - set(PROBES):
            raise TypeError(f"unknown probe names in intervals: {', '.join(sorted(set(intervals) - set(PROBES)))}")
        self.settings = settings
        self.database = database
        self._num_message_handlers = num_message_handlers
        self._node_states = node_states
        self._clock = clock
        self._idam_scheme: str = overrides.get("idam_scheme", "https")
        self._grace_s = float(overrides.get("timeout_grace_s", DEFAULT_GRACE_S))
        self.timeout_s = settings.probe_timeout_s
        self._secrets = _secrets(settings, database)
        self._slots = {name: ThreadSlot(name) for name in ("database", "msg_queue", "elasticsearch", "vault")}
        self._details = {name: _Details(self._secrets) for name in PROBES}
        self._logged: dict[str, str] = {}  # the failure last logged at WARNING, per probe
        self._results: dict[str, ProbeResult] = {}
        self._pending = {name: pending_section(name) for name in PROBES}
        self._last_updated: float | None = None
        self._session: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._probes = {
            name: _Probe(name, getattr(self, f"_run_{name}"), self._failed_section(name), intervals.get(name, 0.0))
            for name in PROBES
        }
        for probe in self._probes.values():
            probe.interval_s = probe.interval_s or settings.probe_interval_s

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start one task per probe on the running loop; returns at once."""
        if self._tasks:
            return
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=client_ssl_context(self.settings)))
        self._tasks = [
            asyncio.create_task(self._loop(probe), name=f"probe-{probe.name}") for probe in self._probes.values()
        ]

    async def stop(self) -> None:
        """Cancel the probes; returns within ``STOP_WAIT_S`` even if a probe hangs."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=STOP_WAIT_S)
        session, self._session = self._session, None
        if session is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(STOP_WAIT_S):
                    await session.close()

    # --- reading -------------------------------------------------------------------------------

    def sections(self) -> JSON:
        """``{"last_updated", "dependencies", "vault"}`` from the cache; never waits. Read-only."""
        results = self._results
        return {
            "last_updated": iso(self._last_updated) if self._last_updated is not None else None,
            "dependencies": {name: self._section(name, results) for name in DEPENDENCIES},
            "vault": self._section("vault", results),
        }

    def results(self) -> dict[str, ProbeResult]:
        """The cached result of each probe that has finished a run (for metrics and tests)."""
        return dict(self._results)

    def _section(self, name: str, results: dict[str, ProbeResult]) -> JSON:
        result = results.get(name)
        return result.section if result is not None else self._pending[name]

    # --- running -------------------------------------------------------------------------------

    async def _loop(self, probe: _Probe) -> None:
        while True:
            started = time.monotonic()
            await self.run_once(probe.name)
            elapsed = time.monotonic() - started
            await asyncio.sleep(max(0.0, probe.interval_s - elapsed))

    async def run_once(self, name: str) -> ProbeResult:
        """Run one probe now and cache its section (also used by tests)."""
        probe = self._probes[name]
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.timeout_s + self._grace_s):
                result = await probe.run()
        except TimeoutError:
            result = probe.failed(timed_out(self.timeout_s))
            self._details[name](f"no result {self.timeout_s + self._grace_s:g} s after the start: cut by the monitor")
        except CheckStillRunning as exc:
            result = probe.failed(str(exc))
        except Exception as exc:  # a bug in a probe still becomes its section, never an outage
            self._details[name](f"the probe raised {exception_text(exc, self._secrets)}")
            result = probe.failed(describe(exc, self.timeout_s, self._secrets))
        return self._store(name, result, time.monotonic() - started)

    def _store(self, name: str, section: JSON, duration_s: float) -> ProbeResult:
        section = mask_section(section, self._secrets)
        taken_at = self._clock()
        previous = self._results.get(name)
        result = ProbeResult(section, taken_at, duration_s)
        self._results[name] = result
        self._last_updated = taken_at if self._last_updated is None else max(self._last_updated, taken_at)
        self._log(name, previous, result, self._details[name].take())
        return result

    def _log(self, name: str, previous: ProbeResult | None, current: ProbeResult, details: list[str]) -> None:
        """One WARNING when a probe starts failing or fails differently; INFO when it recovers."""
        summary = _summary(current.section)
        if current.ok:
            self._logged.pop(name, None)
            if previous is not None and not previous.ok:
                log.info("dependency %s is healthy again: %s", name, summary)
            return
        line = summary + (f" [{'; '.join(details)}]" if details else "")
        key = _NUMBERS.sub("#", line)  # "still hung after 12 s" and "... 22 s" are the same failure
        if self._logged.get(name) == key:
            log.debug("dependency %s is still not OK: %s", name, line)
            return
        self._logged[name] = key
        log.warning("dependency %s is not OK: %s", name, line)

    # --- the probes -----------------------------------------------------------------------------

    def _failed_section(self, name: str) -> Callable[[str], JSON]:
        s = self.settings
        if name == "database":
            return database_probe.unavailable
        if name == "msg_queue":

            def failed_queue(cause: str) -> JSON:
                kind, region = msg_queue_probe.parse_broker(s.broker_url) or ("", "")
                return msg_queue_probe.broker_error(s.queue_name, self._handlers(), kind, region, cause)

            return failed_queue
        if name == "elasticsearch":
            return lambda cause: (
                elastic_probe.unreachable(s.elasticsearch_url, cause)
                if s.elasticsearch_url
                else elastic_probe.not_set()
            )
        if name == "logs":
            return lambda cause: logs_probe.failed(s.logging_address, s.logging_health_address, cause)
        if name == "silo":
            return lambda cause: silo_probe.failed(s.silo_url, cause) if s.silo_url else silo_probe.not_defined()
        if name == "idam":
            return lambda cause: idam_probe.failed(s, idam_probe.login_url(s.scale_vhost, self._idam_scheme), cause)
        if name == "nodes":
            return nodes_probe.failed
        return vault_probe.unreachable

    def _handlers(self) -> int:
        try:
            return int(self._num_message_handlers())
        except Exception as exc:
            log.error("num_message_handlers() raised %s: %s", type(exc).__name__, exc)
            return 0

    async def _run_database(self) -> JSON:
        return await database_probe.probe_database(
            self.database.engine,
            self._slots["database"],
            self.timeout_s,
            secrets=self._secrets,
            report=self._details["database"],
        )

    async def _run_msg_queue(self) -> JSON:
        s = self.settings
        return await msg_queue_probe.probe_msg_queue(
            s.broker_url,
            s.queue_name,
            self._handlers(),
            s.queue_depth_warn,
            self._slots["msg_queue"],
            self.timeout_s,
            secrets=self._secrets,
            report=self._details["msg_queue"],
            ca_file=s.ca_file,
        )

    async def _run_elasticsearch(self) -> JSON:
        return await elastic_probe.probe_elasticsearch(
            self.settings.elasticsearch_url,
            self._slots["elasticsearch"],
            self.timeout_s,
            secrets=self._secrets,
            report=self._details["elasticsearch"],
            ca_file=self.settings.ca_file,
        )

    async def _run_logs(self) -> JSON:
        s = self.settings
        return await logs_probe.probe_logs(
            s.logging_address,
            s.logging_health_address,
            s.fluentd_buffer_warn,
            s.fluentd_buffer_size_warn,
            self._http(),
            self.timeout_s,
            secrets=self._secrets,
            report=self._details["logs"],
        )

    async def _run_silo(self) -> JSON:
        return await silo_probe.probe_silo(
            self.settings.silo_url,
            self._http(),
            self.timeout_s,
            secrets=self._secrets,
            report=self._details["silo"],
        )

    async def _run_idam(self) -> JSON:
        return await idam_probe.probe_idam(
            self.settings,
            self._http(),
            self.timeout_s,
            scheme=self._idam_scheme,
            secrets=self._secrets,
            report=self._details["idam"],
        )

    async def _run_nodes(self) -> JSON:
        return nodes_probe.nodes_section(self._node_states())

    async def _run_vault(self) -> JSON:
        s = self.settings
        return await vault_probe.probe_vault(
            s.secrets_url,
            s.secrets_token,
            self._slots["vault"],
            self.timeout_s,
            secrets=self._secrets,
            report=self._details["vault"],
            ca_file=s.ca_file,
        )

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=client_ssl_context(self.settings)))
        return self._session


def _summary(section: JSON) -> str:
    if "errors" in section:
        parts = [str(section.get("detail", {}).get("msg", ""))]
        parts += [f"{key}: {text}" for error in section["errors"] for key, text in error.items()]
        parts += [f"{key}: {text}" for warning in section["warnings"] for key, text in warning.items()]
        return "; ".join(p for p in parts if p)
    return (
        f"{section.get('status')}: {section.get('message')}" if section.get("message") else str(section.get("status"))
    )


def _secrets(settings: Settings, database: Any) -> list[str]:
    """Every secret string: the settings' own, the token, and the password of the engine's URL."""
    values = set(settings.secret_values())
    if settings.secrets_token:
        values.add(settings.secrets_token)
    for url in (getattr(database, "url", None), settings.broker_url, settings.database_url):
        if url and "://" in url:
            with contextlib.suppress(ValueError):
                password = urlsplit(url).password
                if password and len(password) >= 4:
                    values.add(password)
    return sorted(values, key=len, reverse=True)
