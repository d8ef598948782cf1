"""How long a thread keeps the interpreter once another one asks for it, in `scale-scheduler run`.

The event loop shares the interpreter with the record writer's and the database's threads (and, with
``MESSAGE_HANDLER_MODE=in-process``, the message handlers'). The loop's thread lets go of the
interpreter at every system call (each call to the master is a socket write, each answer a read); a
busy thread that takes it then keeps it until the switch interval has passed, 5 ms by default, before
the loop gets it back, so a turn with many calls waited many times 5 ms ("convoy effect"). At 1 ms the
loop waits a fifth as long each time, for a little more switching. Measured at the full bench-scale
size (10,000 agents, 100,000 jobs; 2-core VM): see bench/HISTORY.md, "the session before" (2026-11-30).
"""

from __future__ import annotations

import sys

SWITCH_INTERVAL_S = 0.001  # Python's default: 0.005


def switch_often() -> None:
    sys.setswitchinterval(SWITCH_INTERVAL_S)
