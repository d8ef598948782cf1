"""A scenario harness for the engine, in the spirit of Nomad's scheduler ``Harness``.

The real ``Engine`` and core run against recording fakes of everything at their edges: a fake clock,
a driver that records each call to the master (and can refuse or leave unanswered an ACCEPT), a
record writer that writes (or fails) only when told, inline background calls, and an in-memory
state store. Nothing runs on its own: ``run_until_idle`` applies the queued inputs, flushes the
writer and makes the calls, over and over until nothing is left, so a scenario is a deterministic
sequence of inputs and the calls and writes it produced.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from dataclasses import dataclass, field
from functools import partial

from scheduler.config import load_settings
from scheduler.core.events import OffersReceived, Subscribed, TaskUpdate
from scheduler.core.inputs import (
    FlagsRead,
    JobsQueued,
    JobTypesRead,
    LoadedNode,
    NodeFlagsRead,
    NodeIdsStored,
    StateLoaded,
)
from scheduler.core.records import ExeEnded, ExeLaunched, NodeRecord, Record
from scheduler.core.state import CoreState
from scheduler.jobs.definitions import JobType
from scheduler.jobs.queue import QueuedJob
from scheduler.mesos.driver import CallError
from scheduler.offers.offer import Offer, Resource
from scheduler.runtime.call_pool import acknowledgement_key
from scheduler.runtime.engine import Engine
from scheduler.tasks.status import TaskState, TaskStatus

UUID = "AAECAwQFBgcICQoLDA0ODw=="
WORK = JobType("work", "1", "do-work", cpus=1.0, mem=256.0, max_tries=3, id=1)


class FakeClock:
    def __init__(self, now: float = 10_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Call:
    kind: str  # ACCEPT, DECLINE, KILL, RECONCILE, ACKNOWLEDGE, SUPPRESS, REVIVE
    offer_ids: tuple[str, ...] = ()
    task_ids: tuple[str, ...] = ()
    agent_id: str | None = None
    refuse_seconds: float | None = None
    at: float | None = None  # the fake clock's time of the call (SUPPRESS, REVIVE)


class RecordingDriver:
    """Records every call; ``refuse_accepts`` (HTTP status, 0 for no answer) fails the next ACCEPTs."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.framework_id_saved = True
        self.subscribed = True
        self.master_url = "http://master-1:5050"  # the leader (a failover changes it)
        self.refuse_accepts: list[int] = []
        self.task_infos: list[dict] = []
        self.clock = None  # the harness's clock, to time SUPPRESS and REVIVE
        self.master_json: dict[str, object] = {  # GET answers by path, as a master with no other framework
            "/master/slaves": {"slaves": []},
            "/master/frameworks": {"frameworks": [], "completed_frameworks": [], "unregistered_frameworks": []},
        }
        # Operator API answers by call type (POST /api/v1); an int is the HTTP status of a refusal,
        # a type not here is answered 404 (a master without the operator API).
        self.operator_answers: dict[str, object] = {
            "GET_FRAMEWORKS": {"type": "GET_FRAMEWORKS", "get_frameworks": {"frameworks": []}},
        }
        self.refuse_offer_calls: list[int] = []  # HTTP statuses failing the next SUPPRESS/REVIVE

    async def launch(self, offer_ids, task_infos, refuse_seconds) -> None:
        self.task_infos += task_infos
        task_ids = tuple(info["task_id"]["value"] for info in task_infos)
        if self.refuse_accepts:
            status = self.refuse_accepts.pop(0)
            self.calls.append(Call("ACCEPT-FAILED", tuple(offer_ids), task_ids))
            raise CallError("ACCEPT", status, "refused by the test" if status else "timed out")
        self.calls.append(Call("ACCEPT", tuple(offer_ids), task_ids))

    async def decline(self, offer_ids, refuse_seconds) -> None:
        self.calls.append(Call("DECLINE", tuple(offer_ids), refuse_seconds=refuse_seconds))

    async def _offer_call(self, kind: str) -> None:
        if self.refuse_offer_calls:
            status = self.refuse_offer_calls.pop(0)
            self.calls.append(Call(f"{kind}-FAILED", at=self.clock() if self.clock else None))
            raise CallError(kind, status, "refused by the test")
        self.calls.append(Call(kind, at=self.clock() if self.clock else None))

    async def suppress(self, roles=()) -> None:
        await self._offer_call("SUPPRESS")

    async def revive(self, roles=()) -> None:
        await self._offer_call("REVIVE")

    async def kill(self, task_id, agent_id) -> None:
        self.calls.append(Call("KILL", task_ids=(task_id,), agent_id=agent_id))

    async def reconcile(self, tasks) -> None:
        self.calls.append(Call("RECONCILE", task_ids=tuple(task_id for task_id, _ in tasks)))

    async def acknowledge_update(self, agent_id, task_id, uuid) -> None:
        self.calls.append(Call("ACKNOWLEDGE", task_ids=(task_id,), agent_id=agent_id))

    async def operator_call(self, call, read=None):
        answer = self.operator_answers.get(call["type"], 404)
        if isinstance(answer, int):
            raise CallError("POST /api/v1", answer, "refused by the test")
        return answer if read is None else read(answer)

    async def get_master_json(self, path, read=None):
        answer = self.master_json.get(path)
        if answer is None:
            raise CallError("GET " + path, 404, "not answered by the test")
        return answer if read is None else read(answer)

    # --- what the scenarios look at ---

    def of(self, kind: str) -> list[Call]:
        return [call for call in self.calls if call.kind == kind]

    def accepted(self, prefix: str = "scale-job-") -> list[str]:
        """Task ids (of jobs, by default) of every ACCEPT the master took, in order (a task launched
        twice shows twice)."""
        return [task_id for call in self.of("ACCEPT") for task_id in call.task_ids if task_id.startswith(prefix)]

    def declined(self) -> set[str]:
        return {offer_id for call in self.of("DECLINE") for offer_id in call.offer_ids}


@dataclass
class _Batch:
    records: list[Record]
    done: object
    droppable: bool


class RecordingWriter:
    """The record writer's interface; batches wait until ``flush``. While ``failing``, a flush gives
    up droppable batches and keeps the others (as the real writer retries them)."""

    def __init__(self) -> None:
        self.pending: list[_Batch] = []
        self.written: list[Record] = []
        self.failing = False
        self.error: str | None = None
        self.failures = 0  # failed writes, as the real writer counts them

    def __len__(self) -> int:
        return len(self.pending)

    def records_waiting(self) -> int:
        return sum(len(batch.records) for batch in self.pending)

    def submit(self, records, done, *, droppable) -> None:
        self.pending.append(_Batch(list(records), done, droppable))

    def flush(self) -> int:
        batches, self.pending = self.pending, []
        finished = 0
        for batch in batches:
            if self.failing and batch.records:
                self.error = "database down (test)"
                self.failures += 1
                if batch.droppable:
                    batch.done(False)
                    finished += 1
                else:
                    self.pending.append(batch)
                continue
            self.written += batch.records
            batch.done(True)
            finished += 1
        if not self.failing:
            self.error = None
        return finished

    async def run(self) -> None:  # the engine's loop is not started by the harness
        raise NotImplementedError

    async def drain(self, timeout_s: float) -> bool:
        return not self.pending

    def launched(self) -> list[str]:
        return [r.task_id for r in self.written if isinstance(r, ExeLaunched)]

    def ended(self) -> list[ExeEnded]:
        return [r for r in self.written if isinstance(r, ExeEnded)]


class InlineCalls:
    """``BackgroundCalls`` made in order by ``flush``; failures are swallowed, as the workers do."""

    def __init__(self, clock=None) -> None:
        self.queue: list[tuple[object, str, Hashable | None, float]] = []
        self.clock = clock or (lambda: 0.0)

    def __len__(self) -> int:
        return len(self.queue)

    def waiting(self, key: Hashable) -> bool:
        return any(k == key for _, _, k, _ in self.queue)

    def oldest_wait_s(self) -> float:
        return self.clock() - min(at for *_, at in self.queue) if self.queue else 0.0

    def spawn(self, call, what: str, key: Hashable | None = None, *, first: bool = False) -> None:
        if key is not None and self.waiting(key):
            return
        self.queue.append((call, what, key, self.clock()))

    acknowledger = None  # set by the engine, as on BackgroundCalls

    def acknowledge(self, agent_id: str, task_id: str, uuid: str, state: str) -> None:
        call = partial(self.acknowledger, agent_id, task_id, uuid)
        self.spawn(call, f"ACKNOWLEDGE {task_id}", key=acknowledgement_key(task_id, uuid, state))

    async def flush(self) -> int:
        made = 0
        while self.queue:
            call, _what, _key, _at = self.queue.pop(0)
            try:
                await call()
            except CallError:
                pass
            made += 1
        return made

    async def drain(self, timeout_s: float) -> bool:
        await self.flush()
        return True


@dataclass
class MemoryStore:
    """The state store: what the database holds, in memory."""

    nodes: list[LoadedNode] = field(default_factory=list)
    types: list[JobType] = field(default_factory=lambda: [WORK])
    queued: list[QueuedJob] = field(default_factory=list)
    paused: bool = False
    message_handlers: int = 0
    node_ids: dict[str, int] = field(default_factory=dict)
    saved_nodes: list[NodeRecord] = field(default_factory=list)

    async def load(self, now: float) -> StateLoaded:
        return StateLoaded(
            nodes=tuple(self.nodes),
            paused=self.paused,
            message_handlers=self.message_handlers,
            job_types=tuple(self.types),
            queued=tuple(self.queued),
        )

    async def queued_jobs(self, after_id: int = 0, gaps=()) -> JobsQueued:
        def wanted(job_id: int) -> bool:
            return job_id > after_id or any(low <= job_id <= high for low, high in gaps)

        return JobsQueued(tuple(job for job in self.queued if wanted(job.job_id)))

    async def job_types(self) -> JobTypesRead:
        return JobTypesRead(tuple(self.types))

    async def flags(self) -> FlagsRead:
        return FlagsRead(self.paused, self.message_handlers)

    async def node_flags(self) -> NodeFlagsRead:
        return NodeFlagsRead({})

    async def save_nodes(self, records, timeout_s=None) -> NodeIdsStored:
        self.saved_nodes += records
        for record in records:
            self.node_ids.setdefault(record.hostname, len(self.node_ids) + 1)
        return NodeIdsStored({r.hostname: self.node_ids[r.hostname] for r in records})

    async def save_status(self, gzipped: bytes, generated_at: float) -> None:
        pass


class Harness:
    def __init__(
        self, tmp_path, *, agents: int = 2, cpus: float = 4.0, mem: float = 4096.0, settings: dict | None = None
    ) -> None:
        self.clock = FakeClock()
        self.driver = RecordingDriver()
        self.driver.clock = self.clock
        self.writer = RecordingWriter()
        self.calls = InlineCalls(self.clock)
        self.store = MemoryStore()
        settings = load_settings({}, overrides={"DATABASE_URL": f"sqlite:///{tmp_path}/unused.db", **(settings or {})})
        self.state = CoreState(
            hostname="scheduler", now=self.clock.now, max_launches_in_flight=settings.max_launches_in_flight
        )
        self.engine = Engine(
            settings,
            self.state,
            database=None,
            clock=self.clock,
            driver=self.driver,
            writer=self.writer,
            calls=self.calls,
            store=self.store,
        )
        self.agents, self.cpus, self.mem = agents, cpus, mem
        self._offers = 0
        self._jobs = 0
        self._finished: set[str] = set()  # node and system tasks the harness finished at start

    # --- driving ---

    def post(self, *items) -> None:
        for item in items:
            self.engine.post(item)

    async def run_until_idle(self, *, write: bool = True, max_rounds: int = 1000) -> None:
        """Apply inputs, write records (unless ``write`` is False) and make calls until nothing moves."""
        for _ in range(max_rounds):
            moved = self.engine.apply_pending()
            if write:
                moved += self.writer.flush()
            moved += await self.calls.flush()
            if not moved:
                return
        raise AssertionError("the engine never went idle")

    async def cycle(self, *, write: bool = True) -> None:
        """One second on the scheduling clock: a tick and a cycle, run until idle."""
        self.clock.now += 1.0
        self.engine.step_cycle()
        await self.run_until_idle(write=write)

    async def sync(self) -> None:
        await self.engine.sync_database()
        await self.run_until_idle()

    def offer(self, agent: int) -> Offer:
        """What the master would offer of the agent: what our tasks on it leave free."""
        self._offers += 1
        ours = self.state.tasks.running_by_agent.get(f"S{agent}", {})
        return Offer(
            f"O{self._offers}",
            f"S{agent}",
            f"host-{agent}",
            (
                Resource("cpus", "SCALAR", scalar=self.cpus - ours.get("cpus", 0) / 100),
                Resource("mem", "SCALAR", scalar=self.mem - ours.get("mem", 0) / 100),
            ),
        )

    def offers(self, agents=None) -> OffersReceived:
        return OffersReceived(tuple(self.offer(a) for a in agents or range(1, self.agents + 1)))

    async def offer_all(self, agents=None) -> list[str]:
        event = self.offers(agents)
        self.post(event)
        await self.run_until_idle()
        return [offer.id for offer in event.offers]

    def update(self, task_id: str, state: TaskState, agent: str = "S1", **kwargs) -> TaskUpdate:
        self.clock.now += 0.1
        return TaskUpdate(TaskStatus(task_id, state, agent_id=agent, uuid=UUID, **kwargs))

    def queue_jobs(self, count: int, job_type_id: int = 1, priority: int = 100) -> list[int]:
        ids = []
        for _ in range(count):
            self._jobs += 1
            self.store.queued.append(QueuedJob(self._jobs, job_type_id, priority, self.clock.now + self._jobs / 1e3))
            ids.append(self._jobs)
        return ids

    async def start(self) -> None:
        """Load, subscribe, and bring every agent's node to READY: its first cleanup, health check and
        the database update run and finish, as on a real start."""
        assert await self.engine.load(asyncio.Event())
        self.post(Subscribed("F-1", 15.0))
        await self.offer_all()
        await self.sync()  # the node rows: ids for the new nodes
        for _ in range(3):
            await self.offer_all()
            await self.cycle()
            launched = [t for t in self.driver.accepted("scale-") if t not in self._finished]
            for task_id in launched:
                agent = next(c for c in self.driver.task_infos if c["task_id"]["value"] == task_id)["agent_id"]["value"]
                self.post(self.update(task_id, TaskState.FINISHED, agent))
                self._finished.add(task_id)
            await self.run_until_idle()
        states = {node.hostname: node.state(self.state.paused).name for node in self.state.nodes}
        assert set(states.values()) == {"READY"}, states
        self.driver.calls.clear()
        self.writer.written.clear()

    def view(self):
        return self.engine.build_snapshot().view

    def tracked(self) -> set[str]:
        return {task.task_id for task in self.state.tasks}
