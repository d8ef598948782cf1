"""Per-node execution counts: running, and finished in the last three hours in five-minute blocks."""

from scheduler.jobs.definitions import ErrorCategory, ExeStatus
from scheduler.jobs.exe_metrics import BLOCK_S, WINDOW_S, JobExeMetrics, window_start

COMPLETED, FAILED, CANCELED = ExeStatus.COMPLETED, ExeStatus.FAILED, ExeStatus.CANCELED
DATA, ALGORITHM, SYSTEM = ErrorCategory.DATA, ErrorCategory.ALGORITHM, ErrorCategory.SYSTEM


def test_node_json_shape_and_categories():
    metrics = JobExeMetrics()
    now = 100_000.0
    metrics.started(1, 7)
    metrics.started(1, 7)
    metrics.started(1, 8)
    metrics.stopped_running(1, 7)
    for status, category in [
        (COMPLETED, None),
        (FAILED, DATA),
        (FAILED, ALGORITHM),
        (FAILED, SYSTEM),
        (FAILED, SYSTEM),
        (CANCELED, None),
    ]:
        metrics.finished(1, 7, status, category, now, now)
    document = metrics.node_json(1)
    assert document["running"] == {
        "total": 2,
        "by_job_type": [{"job_type_id": 7, "count": 1}, {"job_type_id": 8, "count": 1}],
    }
    assert document["completed"] == {"total": 1, "by_job_type": [{"job_type_id": 7, "count": 1}]}
    assert document["failed"]["total"] == 4  # CANCELED counts nowhere, as in Scale
    assert document["failed"]["system"]["total"] == 2
    assert document["failed"]["data"] == {"total": 1, "by_job_type": [{"job_type_id": 7, "count": 1}]}
    assert metrics.node_json(99) == {
        "running": {"total": 0, "by_job_type": []},
        "completed": {"total": 0, "by_job_type": []},
        "failed": {"total": 0, **{k: {"total": 0, "by_job_type": []} for k in ("data", "algorithm", "system")}},
    }


def test_window_keeps_between_three_hours_and_three_hours_five_minutes():
    metrics = JobExeMetrics()
    ended = 36_000.0 + 10  # 10 s into a block
    metrics.finished(1, 7, COMPLETED, None, ended, ended)
    block_end = 36_000.0 + BLOCK_S
    metrics.prune(block_end + WINDOW_S - 1)
    assert metrics.counts(1)["completed"] == 1
    metrics.prune(block_end + WINDOW_S)
    assert metrics.counts(1)["completed"] == 0


def test_window_start_matches_the_blocks_kept():
    now = 50_000.0
    start = window_start(now)
    assert start % BLOCK_S == 0 and start <= now - WINDOW_S < start + BLOCK_S
    metrics = JobExeMetrics()
    metrics.finished(1, 7, COMPLETED, None, start, now)  # the oldest kept block
    metrics.finished(1, 7, COMPLETED, None, start - 1, now)  # just before it: not counted
    assert metrics.counts(1)["completed"] == 1


def test_reload_order_does_not_matter():
    metrics = JobExeMetrics()
    now = 80_000.0
    for ended in (now - 100, now - 5000, now - 2000):
        metrics.finished(2, 7, FAILED, DATA, ended, now)
    metrics.prune(now)
    assert metrics.counts(2)["data"] == 3
    metrics.prune(now - 5000 + WINDOW_S + BLOCK_S)  # only the oldest end has left the window
    assert metrics.counts(2)["data"] == 2


def test_tries_running_per_job_type_over_the_cluster():
    """The load history's detail: counted as tries start and stop, on whichever node."""
    metrics = JobExeMetrics()
    metrics.started(1, 7)
    metrics.started(2, 7)
    metrics.started(2, 8)
    assert metrics.running_by_type == {7: 2, 8: 1}
    metrics.stopped_running(1, 7)
    metrics.stopped_running(2, 8)
    metrics.stopped_running(2, 8)  # stopped twice (an update resent): counted once
    metrics.stopped_running(3, 9)  # never started here
    assert metrics.running_by_type == {7: 1}
