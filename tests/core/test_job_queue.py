"""The queue kept per job type: running order across types, a pass that costs what it places."""

from __future__ import annotations

import gc
import random

from scheduler.jobs.queue import JobQueue, QueuedJob


def job(job_id: int, job_type_id: int = 1, priority: int = 100, queued_at: float | None = None) -> QueuedJob:
    return QueuedJob(job_id, job_type_id, priority, float(job_id) if queued_at is None else queued_at)


def test_iteration_is_scale_order_across_types_priority_then_age():
    queue = JobQueue()
    queue.add_many([job(1, 1, 100), job(2, 2, 5), job(3, 1, 5), job(4, 2, 100, queued_at=0.5)])
    queue.add(job(5, 3, 5, queued_at=2.5))
    assert [j.job_id for j in queue] == [2, 5, 3, 4, 1]
    assert queue.counts() == {1: 2, 2: 2, 3: 1}
    assert len(queue) == 5 and 4 in queue and 9 not in queue


def test_heads_merge_in_order_and_follow_removals():
    queue = JobQueue()
    rng = random.Random(7)
    jobs = [job(i, rng.randrange(4), rng.choice((5, 50, 100)), rng.random()) for i in range(1, 400)]
    queue.add_many(jobs)
    heads = queue.heads()
    taken = []
    while (head := heads.next()) is not None:
        taken.append(head.job_id)
        queue.remove(head.job_id)  # placed
    assert taken == [j.job_id for j in sorted(jobs, key=lambda j: j.order)]
    assert len(queue) == 0 and queue.counts() == {}


def test_a_dropped_type_is_passed_over_whole_in_one_step():
    queue = JobQueue()
    queue.add_many([job(i, 1, 10) for i in range(1, 1001)] + [job(i, 2, 50) for i in range(1001, 1004)])
    heads = queue.heads()
    first = heads.next()
    assert first.job_type_id == 1
    heads.drop(1)  # no room for type 1 in this pass: its 1,000 jobs are not looked at
    rest = []
    while (head := heads.next()) is not None:
        rest.append(head.job_id)
        queue.remove(head.job_id)
    assert rest == [1001, 1002, 1003]
    assert queue.count(1) == 1000 and heads.job_type_ids() == []


def test_types_left_when_a_pass_stops_early():
    queue = JobQueue()
    queue.add_many([job(1, 1), job(2, 2), job(3, 3)])
    heads = queue.heads([1, 2])  # type 3 filtered out by the caller
    queue.remove(heads.next().job_id)
    assert sorted(heads.job_type_ids()) == [2]  # type 1 has nothing left; type 3 was never in


def test_removed_from_the_middle_and_added_again_is_seen_once_in_its_new_place():
    queue = JobQueue()
    queue.add_many([job(1), job(2), job(3)])
    assert queue.remove(2).job_id == 2
    assert queue.remove(2) is None
    queue.add(QueuedJob(2, 1, 1, 2.0, num_exes=1))  # back (a retry) at a better priority
    assert queue.add(job(2)) is False  # already queued
    assert [(j.job_id, j.num_exes) for j in queue] == [(2, 1), (1, 0), (3, 0)]
    heads = queue.heads()
    order = []
    while (head := heads.next()) is not None:
        order.append(head.job_id)
        queue.remove(head.job_id)
    assert order == [2, 1, 3]


def test_a_better_job_added_during_a_pass_is_taken_in_order():
    queue = JobQueue()
    queue.add_many([job(1, 1, 100), job(2, 2, 100)])
    heads = queue.heads()
    queue.remove(heads.next().job_id)
    queue.add(job(3, 2, 1))
    assert heads.next().job_id == 3


def test_stale_entries_do_not_pile_up():
    queue = JobQueue()
    queue.add_many([job(i) for i in range(1, 10_001)])
    for i in range(2, 10_001, 2):
        queue.remove(i)  # from the middle: their entries go stale
    assert len(queue._heaps[1]) <= 2 * len(queue) + 64
    assert [j.job_id for j in queue][:3] == [1, 3, 5]


def test_summaries_per_type():
    queue = JobQueue()
    queue.add_many([job(1, 1, 100, 50.0), job(2, 1, 7, 60.0), job(3, 2, 30, 10.0)])
    queue.remove(3)
    queue.add(job(4, 2, 40, 20.0))
    summaries = queue.summaries()
    assert (summaries[1].count, summaries[1].oldest_queued_at, summaries[1].best_priority) == (2, 50.0, 7)
    assert (summaries[2].count, summaries[2].oldest_queued_at, summaries[2].best_priority) == (1, 20.0, 40)


def test_summaries_match_a_walk_of_the_queue_through_random_adds_and_removes():
    rng = random.Random(7)
    queue = JobQueue()
    queued: dict[int, QueuedJob] = {}
    next_id = 1
    for step in range(3000):
        if queued and rng.random() < 0.45:
            job_id = rng.choice(list(queued))
            assert queue.remove(job_id) == queued.pop(job_id)  # the same job (kept as numbers, made again)
        else:
            batch = [
                job(next_id + k, rng.randint(1, 4), rng.choice((10, 50, 100)), rng.uniform(0, 1000))
                for k in range(rng.choice((1, 1, 40)))
            ]
            next_id += len(batch)
            queue.add_many(batch) if len(batch) > 1 else queue.add(batch[0])
            queued.update((j.job_id, j) for j in batch)
        if step % 50 == 0:
            expected = {}
            for j in queued.values():
                count, oldest, best = expected.get(j.job_type_id, (0, float("inf"), 10**9))
                expected[j.job_type_id] = (count + 1, min(oldest, j.queued_at), min(best, j.priority))
            got = {t: (s.count, s.oldest_queued_at, s.best_priority) for t, s in queue.summaries().items()}
            assert got == expected
    assert all(len(heap) <= 2 * queue.count(t) + 64 for t, heap in queue._oldest.items())


def test_the_queue_keeps_its_jobs_out_of_the_collectors_sight():
    # 100,000 queued jobs as objects were walked by a young and a middle collection as they came.
    queue = JobQueue()
    queue.add_many([job(i, 1 + i % 3, 100, float(i)) for i in range(1, 1001)])
    queue.add(job(5000, 1, 10, 1.0))
    queue.remove(7)
    gc.collect()
    entries = [entry for heaps in (queue._heaps, queue._oldest) for heap in heaps.values() for entry in heap]
    entries += queue._jobs.values()
    assert len(entries) > 2000 and not any(gc.is_tracked(entry) for entry in entries)
    assert queue.head(1) == job(5000, 1, 10, 1.0) and len(queue) == 1000
