"""The garbage collector set for a process that keeps a large core for its whole life.

Measured with bench-scale (10,000 agents, 20,000 jobs, Python 3.11 defaults 700/10/10): 60 full
collections in 155 s, each 150-400 ms with the event loop stopped, a sixth of the run. Under load an
update or a record waits a few milliseconds (for its write, its acknowledgement), outlives 700
allocations and is promoted; the old generation fills with objects about to die, and a full
collection comes every few seconds, each walking every node, job and module object again.

So: a young generation large enough for such objects to die in it, full collections less often,
and what the process holds once it has started (modules, the state loaded from the database) moved
out of the collector's sight (``gc.freeze``): it is walked by no collection again. Objects frozen are
still freed when their last reference goes; only a reference cycle among them would stay.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)

# Allocations between young collections (default 700). Under load nearly everything young is alive
# when one comes (an update waiting for its write, a call for its worker), so a collection's pause
# grows with this: at 20,000 young collections stopped the loop 42 ms each on a slow 2-core VM, at
# 10,000 15 ms, for the same total (bench-scale, 10,000 agents).
YOUNG_THRESHOLD = 10_000
MIDDLE_THRESHOLD = 20  # young collections per middle one (default 10): a middle one every 200,000 as before
OLD_THRESHOLD = 50  # middle collections at least between two full ones (default 10)


def tune() -> None:
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)


def freeze_started() -> None:
    """Once started: what is alive now is kept for good; collect the start's garbage, then freeze."""
    gc.collect()
    gc.freeze()
    log.info("Garbage collector: %d objects from start-up frozen", gc.get_freeze_count())
