"""Snapshot build time and memory per node, measured on the real core in a fresh interpreter.

``python -m bench.core_costs --agents N`` builds a core holding N nodes as the master describes
them (totals, other frameworks' use, a held offer on every other agent), then times:

- a cold build (every node entry serialized),
- a warm build (nothing changed: the steady state between offers),
- a build after 10 % of the nodes changed,
- the snapshot view published with each build (node states, queue summary, gauges),

and reports the resident memory the N nodes added, per node. It prints one JSON line.

``python -m bench.core_costs --agents 1000 --pass-queued 1000 100000`` times instead one scheduling
pass (``Cycle``) with each queue length and the same offers (``--pass-offers`` agents, default 40,
offer 1 cpu: 10 jobs of 0.1 cpu each; three job types, one too big for any offer), the jobs placed put back each
round so the queue keeps its length; it prints the median pass per queue length and their ratio
(near 1 when a pass costs what it places, not the queue's length).
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def measure(agents: int, repeats: int) -> dict:
    from scheduler.core.apply import apply
    from scheduler.core.events import OffersReceived, Subscribed
    from scheduler.core.inputs import AgentsListed, Cycle, NodeIdsStored
    from scheduler.core.state import CoreState
    from scheduler.nodes.agent_report import AgentReport
    from scheduler.offers.offer import Offer, Resource
    from scheduler.status.core_view import ViewBuilder
    from scheduler.status.document import StatusBuilder

    gc.collect()
    before = rss_bytes()
    core = CoreState(hostname="bench", now=0.0)
    apply(core, Subscribed("F-bench", 15.0), 0.0)
    total = {"cpus": 4.0, "mem": 8192.0, "disk": 65536.0, "gpus": 0.0}
    reports = [AgentReport(f"S{i}", f"agent-{i:05d}", True, total, {"cpus": 1.0}, {}) for i in range(agents)]
    apply(core, AgentsListed(tuple(reports)), 1.0)
    apply(core, NodeIdsStored({node.hostname: number for number, node in enumerate(core.nodes, start=1)}), 1.0)
    offers = tuple(
        Offer(f"O{i}", f"S{i}", f"agent-{i:05d}", (Resource("cpus", "SCALAR", scalar=3.0),))
        for i in range(0, agents, 2)
    )
    apply(core, OffersReceived(offers), 2.0)
    builder = StatusBuilder()
    view_builder = ViewBuilder()

    started = time.perf_counter()
    body = builder.build(core, 3.0)
    cold_s = time.perf_counter() - started
    del reports, offers
    gc.collect()
    per_node = (rss_bytes() - before) / agents

    warm, changed, views = [], [], []
    for round_number in range(repeats):
        now = 4.0 + round_number
        builder.build(core, now)  # takes in whatever the last round changed
        started = time.perf_counter()
        builder.build(core, now + 0.1)
        warm.append(time.perf_counter() - started)
        # One node in ten gets an offer (a change every entry must show), then the build.
        fresh = tuple(
            Offer(f"R{round_number}-{i}", f"S{i}", f"agent-{i:05d}", (Resource("mem", "SCALAR", scalar=512.0),))
            for i in range(round_number % 10, agents, 10)
        )
        apply(core, OffersReceived(fresh), now + 0.5)
        started = time.perf_counter()
        builder.build(core, now + 0.6)
        changed.append(time.perf_counter() - started)
        started = time.perf_counter()
        view_builder.build(core, now + 0.6)  # published with every snapshot, for /metrics and the probes
        views.append(time.perf_counter() - started)
        apply(core, Cycle(), now + 0.7)
    return {
        "agents": agents,
        "document_bytes": len(body),
        "build_cold_s": cold_s,
        "build_warm_s": statistics.median(warm),
        "build_10pct_changed_s": statistics.median(changed),
        "view_s": statistics.median(views),
        "rss_per_node_bytes": per_node,
    }


def measure_pass(agents: int, queued: int, repeats: int, offering: int) -> dict:
    from scheduler.core.apply import add_queued_jobs, apply
    from scheduler.core.events import OffersReceived, Subscribed
    from scheduler.core.inputs import AgentsListed, Cycle, FlagsRead, JobTypesRead, NodeIdsStored
    from scheduler.core.state import CoreState
    from scheduler.jobs.definitions import JobType
    from scheduler.jobs.queue import QueuedJob
    from scheduler.nodes.agent_report import AgentReport
    from scheduler.offers.offer import Offer, Resource

    now = 1000.0
    core = CoreState(hostname="bench", now=now)
    apply(core, Subscribed("F-bench", 15.0), now)
    types = (
        JobType("small", "1", "true", cpus=0.1, mem=32.0, id=1),
        JobType("other", "1", "true", cpus=0.1, mem=64.0, id=2),
        JobType("huge", "1", "true", cpus=64.0, mem=64.0, id=3),  # no offer has room: passed over
    )
    apply(core, JobTypesRead(types), now)
    for i in range(agents):
        node = core.nodes.saw_offer(f"S{i}", f"agent-{i:05d}", now)
        apply(core, NodeIdsStored({f"agent-{i:05d}": i + 1}), now)
        node.initial_cleanup_done = True
        core.node_tasks.work(node).health_due_at = now + 1e9
    total = {"cpus": 16.0, "mem": 65536.0}
    apply(
        core,
        AgentsListed(tuple(AgentReport(f"S{i}", f"agent-{i:05d}", True, total, {}, {}) for i in range(agents))),
        now,
    )
    core.db_update.completed_at = now
    apply(core, FlagsRead(paused=False, message_handlers=0), now)
    launches = getattr(core, "launches", None)  # absent before launches in flight were bounded
    if launches is not None:
        launches.limit = launches.per_pass = 10**9
    next_id = 1

    def queue(count: int, job_type_ids: tuple[int, ...] = (1, 2, 3)) -> None:
        nonlocal next_id
        jobs = [
            QueuedJob(next_id + j, job_type_ids[(next_id + j) % len(job_type_ids)], 100, now + (next_id + j) / 1e6)
            for j in range(count)
        ]
        next_id += count
        add_queued_jobs(core, jobs)

    queue(queued)
    times, placed = [], []
    for round_number in range(repeats + 1):
        now += 1.0
        offers = tuple(
            Offer(
                f"R{round_number}-{i}",
                f"S{i}",
                f"agent-{i:05d}",
                (Resource("cpus", "SCALAR", scalar=1.0), Resource("mem", "SCALAR", scalar=65536.0)),
            )
            for i in range(offering)
        )
        apply(core, OffersReceived(offers), now)
        before = len(core.queue)
        gc.collect()  # the setup's garbage is not the pass's
        started = time.perf_counter()
        actions = apply(core, Cycle(), now)
        elapsed = time.perf_counter() - started
        if launches is not None:
            launches.answered(t.task_id for launch in actions.launch for t in launch.tasks)
        if round_number:  # the first pass warms up
            times.append(elapsed)
            placed.append(before - len(core.queue))
        queue(before - len(core.queue), (1, 2))  # the queue keeps its length and its mix
    return {"queued": queued, "pass_s": statistics.median(times), "placed_per_pass": statistics.median(placed)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, required=True)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--pass-queued", type=int, nargs="+", help="time a scheduling pass at these queue lengths")
    parser.add_argument("--pass-offers", type=int, default=40, help="agents offering 1 cpu (10 jobs) in each pass")
    args = parser.parse_args()
    if args.pass_queued:
        results = [
            measure_pass(args.agents, queued, args.repeats, min(args.pass_offers, args.agents))
            for queued in args.pass_queued
        ]
        report = {"agents": args.agents, "passes": results}
        report["ratio_last_to_first"] = round(results[-1]["pass_s"] / results[0]["pass_s"], 2)
        print(json.dumps(report))
        return
    print(json.dumps(measure(args.agents, args.repeats)))


if __name__ == "__main__":
    main()
