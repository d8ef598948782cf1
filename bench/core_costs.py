"""Snapshot build time and memory per node, measured on the real core in a fresh interpreter.

``python -m bench.core_costs --agents N`` builds a core holding N nodes as the master describes
them (totals, other frameworks' use, a held offer on every other agent), then times:

- a cold build (every node entry serialized),
- a warm build (nothing changed: the steady state between offers),
- a build after 10 % of the nodes changed,
- the snapshot view published with each build (node states, queue summary, gauges),

and reports the resident memory the N nodes added, per node. It prints one JSON line.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, required=True)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(measure(args.agents, args.repeats)))


if __name__ == "__main__":
    main()
