"""Small asyncio helpers shared by the driver and the runtime."""

from __future__ import annotations

import asyncio


async def wait_event(event: asyncio.Event, timeout_s: float) -> bool:
    """Wait until ``event`` is set or ``timeout_s`` passes; True if it was set.

    ``asyncio.timeout`` rather than ``wait_for``: on Python 3.11 ``wait_for`` can swallow a
    cancellation that arrives as the inner wait finishes, which hangs a loop at shutdown.
    """
    if event.is_set():
        return True
    try:
        async with asyncio.timeout(max(timeout_s, 0)):
            await event.wait()
        return True
    except TimeoutError:
        return False
