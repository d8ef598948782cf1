"""Time passing, on the scheduling clock: node rules, execution windows, scheduler warnings."""

from __future__ import annotations

from scheduler.core.state import CoreState

ENDED_JOBS_KEPT = 10_000  # past this many, the oldest ends are forgotten (long written by then)


def reset_nodes(state: CoreState) -> None:
    """Nodes that went offline or retired start their node tasks over."""
    for node in state.nodes.take_reset():
        state.node_tasks.reset(node)


def advance(state: CoreState, now: float) -> None:
    state.nodes.tick(now, state.tasks.busy_agents())
    reset_nodes(state)
    if len(state.ended_jobs) > ENDED_JOBS_KEPT:
        cutoff = sorted(state.ended_jobs.values())[-ENDED_JOBS_KEPT // 2]
        state.ended_jobs = {job: at for job, at in state.ended_jobs.items() if at >= cutoff}
    state.exe_metrics.prune(now)
    queued_types = state.queue.job_type_ids()  # per type: not a walk of the whole queue
    state.resource_check.update(
        state.nodes, [state.job_types[jt] for jt in queued_types if jt in state.job_types], state.warnings, now
    )
    state.warnings.drop_old(now)
