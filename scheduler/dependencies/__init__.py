"""The ``dependencies`` and ``vault`` sections of the v6 status: probes run in the background.

``DependencyMonitor`` (``monitor.py``) owns one asyncio task per probe; each probe module holds the
pure functions that build its section (Scale's keys, messages and thresholds) and a thin async
wrapper doing the I/O.
"""

from scheduler.dependencies.monitor import DEPENDENCIES, PROBES, DependencyMonitor, ProbeResult

__all__ = ["DEPENDENCIES", "PROBES", "DependencyMonitor", "ProbeResult"]
