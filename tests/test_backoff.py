"""The one backoff helper: grows by doubling, stays within its jitter band, stops at its cap, and
starts again from the base after a reset."""

from __future__ import annotations

import random

import pytest

from scheduler.backoff import Backoff, backoff_delay


class Extremes(random.Random):
    """A random source that always draws the low (or the high) end of the range asked for."""

    def __init__(self, high: bool) -> None:
        super().__init__(0)
        self.high = high

    def uniform(self, a: float, b: float) -> float:
        return b if self.high else a


def test_delays_double_from_the_base_up_to_the_cap():
    highs = Backoff(0.5, 15.0, Extremes(high=True))
    assert [highs.next() for _ in range(8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0, 15.0]
    lows = Backoff(0.5, 15.0, Extremes(high=False))
    assert [lows.next() for _ in range(8)] == [0.25, 0.5, 1.0, 2.0, 4.0, 7.5, 7.5, 7.5]


def test_every_delay_is_inside_its_jitter_band_and_jittered():
    backoff = Backoff(1.0, 30.0, random.Random(11))
    delays = [backoff.next() for _ in range(40)]
    for attempt, delay in enumerate(delays):
        ceiling = min(30.0, 2.0**attempt)
        assert ceiling / 2 <= delay <= ceiling, (attempt, delay)
    capped = delays[5:]
    assert len({round(d, 9) for d in capped}) == len(capped)  # drawn, not a fixed ladder
    assert min(capped) < 20 < max(capped)  # the draws cover the band, not one end of it


def test_the_injected_source_makes_it_repeatable():
    first, second = Backoff(0.5, 15.0, random.Random(3)), Backoff(0.5, 15.0, random.Random(3))
    assert [first.next() for _ in range(10)] == [second.next() for _ in range(10)]


def test_reset_starts_again_from_the_base():
    backoff = Backoff(1.0, 30.0, Extremes(high=True))
    for _ in range(6):
        backoff.next()
    assert backoff.attempt == 6
    backoff.reset()
    assert backoff.attempt == 0
    assert [backoff.next(), backoff.next()] == [1.0, 2.0]


def test_a_lower_cap_for_one_delay_keeps_the_count():
    backoff = Backoff(1.0, 15.0, Extremes(high=True))
    assert [backoff.next(cap_s=2.0) for _ in range(4)] == [1.0, 2.0, 2.0, 2.0]
    assert backoff.next() == 15.0  # the fifth failure, at the normal cap
    assert backoff.next(cap_s=60.0) == 15.0  # never above the configured cap


def test_huge_attempt_counts_stay_finite_and_capped():
    assert backoff_delay(10_000, 0.5, 15.0, Extremes(high=True)) == 15.0
    assert backoff_delay(-3, 0.5, 15.0, Extremes(high=True)) == 0.5


@pytest.mark.parametrize(("base", "cap"), [(0.0, 1.0), (1.0, 0.0), (-1.0, 5.0)])
def test_a_meaningless_backoff_is_refused(base, cap):
    with pytest.raises(ValueError):
        Backoff(base, cap)
