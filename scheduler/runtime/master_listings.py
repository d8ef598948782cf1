"""The master's listings the engine reads besides its event stream: the agents (``/master/slaves``),
for resources and nodes the offers do not show, and the frameworks (the operator API's
``GET_FRAMEWORKS``, or ``/master/frameworks`` from a master without it), for ghosts with our name
(Scale issue 1900). Each read becomes an input for the core.

The master builds these listings in its one actor (10,000 agents: megabytes each time) and every
call of every framework waits meanwhile, so a listing is read again only after ``MASTER_READ_SPACING``
times the time the last read took, even when the configured interval is shorter.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from scheduler.config import Settings
from scheduler.core.inputs import AgentsListed, Input, MasterProblems
from scheduler.mesos.agents import parse_agents
from scheduler.mesos.driver import CallError
from scheduler.mesos.frameworks import ghost_frameworks, listed_by_operator_api
from scheduler.redact import mask_url

log = logging.getLogger(__name__)

# The frameworks' answer is large (GET_FRAMEWORKS lists the offers held, /master/frameworks every task
# too): read less often than the agents.
GHOST_CHECK_INTERVAL_S = 30.0
GET_FRAMEWORKS = {"type": "GET_FRAMEWORKS"}
# A master (or a proxy in front of it) without the v1 operator API: no route, or the call not known.
NO_OPERATOR_API = frozenset({404, 405, 501})
MASTER_READ_SPACING = 20


class MasterListings:
    def __init__(self, settings: Settings, clock: Callable[[], float]) -> None:
        self.settings = settings
        self.clock = clock
        self.detector: Any = None  # the ZooKeeper detector (set by the daemon with zk://)
        self.error: str | None = None  # why the last agents' read failed, until one succeeds
        self.frameworks_error: str | None = None  # the same for the frameworks' read
        self._agents_not_before = 0.0
        self._ghosts_not_before = 0.0
        # The master that answered GET_FRAMEWORKS as one without the operator API would: it is read
        # through /master/frameworks; another (a new leader after a failover) is asked again.
        self._refused_by: str | None = None

    async def read(self, driver, framework_id: str | None) -> list[Input]:
        """The inputs from this round's reads: the agents when due, then the master's problems."""
        inputs: list[Input] = []
        agents = await self._read_agents(driver)
        if agents is not None:
            inputs.append(agents)
        # The master's problems (ghosts, ZooKeeper) after its agents: the frameworks' read is slower.
        ghosts = await self._read_ghosts(driver, framework_id)
        detector = self.detector
        detection = detector.problem() if detector is not None else None
        inputs.append(MasterProblems(ghosts, detection, self.error, self.frameworks_error))
        return inputs

    async def _read_agents(self, driver) -> AgentsListed | None:
        if driver is None or not driver.subscribed or self.clock() < self._agents_not_before:
            return None
        started = self.clock()
        try:
            reports = await driver.get_master_json("/master/slaves", read=parse_agents)
            self._agents_not_before = self._again_at(started, 0.0)
        except (CallError, ValueError) as exc:
            if not isinstance(exc, CallError):  # answered but unreadable: the master built it all the same
                self._agents_not_before = self._again_at(started, 0.0)
            if self.error is None:
                log.warning("Cannot read the master's agents (%s); using offers only", exc)
            self.error = str(exc)
            return None
        if self.error is not None:
            log.info("Reading the master's agents again")
        self.error = None
        return AgentsListed(tuple(reports))

    async def _read_frameworks(self, driver, read: Callable[[Any], Any]) -> Any:
        """Through the operator API's GET_FRAMEWORKS while the master answers it (no tasks: 0.6-1.3 MB
        at 10,000 agents mid-burst, where ``/master/frameworks`` was 10-13 MB); ``/master/frameworks``
        from a master without it."""
        master = driver.master_url
        if master != self._refused_by:
            try:
                answer = await driver.operator_call(
                    GET_FRAMEWORKS, read=lambda answer: read(listed_by_operator_api(answer))
                )
                self._refused_by = None
                return answer
            except CallError as exc:
                if exc.status not in NO_OPERATOR_API:
                    raise
                self._refused_by = master
                log.warning(
                    "The master %s does not answer GET_FRAMEWORKS (%s); reading its /master/frameworks instead",
                    mask_url(master),
                    exc,
                )
        return await driver.get_master_json("/master/frameworks", read=read)

    def _again_at(self, started: float, interval_s: float) -> float:
        """When a listing whose read began at ``started`` and just ended may be read again."""
        return started + max(interval_s, MASTER_READ_SPACING * (self.clock() - started))

    async def _read_ghosts(self, driver, framework_id: str | None) -> tuple[str, ...] | None:
        """Other frameworks with our name or principal, read every ``GHOST_CHECK_INTERVAL_S``;
        None when not read this round (the last answer stands)."""
        now = self.clock()
        if driver is None or not driver.subscribed or now < self._ghosts_not_before:
            return None
        interval_s = max(GHOST_CHECK_INTERVAL_S, self.settings.master_poll_interval_s)
        self._ghosts_not_before = now + interval_s  # a failed read waits its turn too
        our_id = framework_id or getattr(driver, "framework_id", None)
        settings = self.settings
        read = partial(
            ghost_frameworks, our_id=our_id, name=settings.framework_name, principal=settings.mesos_principal
        )
        try:
            ghosts = await self._read_frameworks(driver, read)
            self._ghosts_not_before = self._again_at(now, interval_s)
        except (CallError, ValueError) as exc:
            if self.frameworks_error is None:
                log.warning("Cannot read the master's frameworks (%s); no ghost check meanwhile", exc)
            self.frameworks_error = str(exc)
            return None
        if self.frameworks_error is not None:
            log.info("Reading the master's frameworks again")
        self.frameworks_error = None
        if ghosts:
            log.warning("The master lists other frameworks with our name or principal: %s", "; ".join(ghosts))
        return tuple(ghosts)
