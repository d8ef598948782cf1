"""Capped, jittered exponential backoff: how long to wait before trying something again.

The n-th delay (n from 0) is drawn uniformly from [d/2, d] with d = min(cap, base * 2**n): the
jitter keeps many clients that failed together (a master or database restart) from retrying in
step, and the lower half-bound keeps the growth. ``reset`` starts the ladder again after a success.
"""

from __future__ import annotations

import random

_MAX_DOUBLINGS = 60  # 2**60 times any base is past every cap; keeps the power a finite float


def backoff_delay(attempt: int, base_s: float, cap_s: float, rng: random.Random | None = None) -> float:
    """The delay before retry number ``attempt`` (0 for the first retry)."""
    ceiling = min(cap_s, base_s * 2 ** min(max(attempt, 0), _MAX_DOUBLINGS))
    return (rng or random).uniform(ceiling / 2, ceiling)


class Backoff:
    """The delays of one retry loop: ``next()`` after each failure, ``reset()`` after a success."""

    def __init__(self, base_s: float, cap_s: float, rng: random.Random | None = None) -> None:
        if base_s <= 0 or cap_s <= 0:
            raise ValueError(f"backoff needs a positive base and cap, got {base_s} s and {cap_s} s")
        self.base_s, self.cap_s = base_s, cap_s
        self.rng = rng or random.Random()
        self.attempt = 0  # failures since the last reset

    def next(self, cap_s: float | None = None) -> float:
        """The next delay; ``cap_s`` lowers the cap for this one (a peer that is up but not ready)."""
        cap = self.cap_s if cap_s is None else min(cap_s, self.cap_s)
        delay = backoff_delay(self.attempt, self.base_s, cap, self.rng)
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0
