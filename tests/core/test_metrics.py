import pytest

from scheduler.metrics.scheduler_metrics import METRICS, SchedulerMetrics
from scheduler.metrics.window import SlidingCounter, scale_round


@pytest.mark.parametrize(
    "value, expected",
    [
        (0.0, 0.0),
        (0.123, 0.12),
        (9.999, 10.0),
        (10.0, 10.0),
        (10.04, 10.0),
        (15.26, 15.3),
        (100.0, 100.0),
        (100.6, 101.0),
        (2500.4, 2500.0),
    ],
)
def test_scale_rounding(value, expected):
    assert scale_round(value) == expected


def test_rate_is_exact_over_complete_seconds():
    counter = SlidingCounter(window_s=10, now=1000.0)
    for second in range(1000, 1020):
        counter.add(5, second + 0.5)
    # At 1020.2 the complete seconds 1010..1019 hold 50 events.
    assert counter.rate(1020.2) == 5.0
    counter.add(1000, 1020.3)  # the current second does not count yet
    assert counter.rate(1020.9) == 5.0
    assert counter.rate(1021.0) == (45 + 1000) / 10


def test_window_slides_and_old_counts_fall_out():
    counter = SlidingCounter(window_s=3, now=0.0)
    counter.add(30, 0.1)
    assert counter.rate(1.0) == 30.0  # one complete second so far
    assert counter.rate(3.5) == 10.0
    assert counter.rate(4.0) == 0.0
    assert counter.total == 30  # totals never fall


def test_young_scheduler_divides_by_elapsed_seconds_not_the_window():
    counter = SlidingCounter(window_s=10, now=0.0)
    counter.add(4, 0.5)
    counter.add(4, 1.5)
    assert counter.rate(2.1) == 4.0
    assert counter.rate(0.9) == 0.0


def test_memory_is_bounded():
    counter = SlidingCounter(window_s=5, now=0.0)
    for second in range(10_000):
        counter.add(1, float(second))
    assert len(counter._counts) <= 8


def test_scheduler_metrics_has_the_seven_keys_and_totals():
    metrics = SchedulerMetrics(window_s=10, now=0.0)
    metrics.count("offers_launched_per_sec", 3, 0.5)
    metrics.count("offers_launched_per_sec", 4, 0.7)  # adds, unlike Scale's assignment bug
    rates = metrics.rates(1.0)
    assert list(rates) == list(METRICS) and len(rates) == 7
    assert rates["offers_launched_per_sec"] == 7.0
    assert metrics.totals()["offers_launched"] == 7
