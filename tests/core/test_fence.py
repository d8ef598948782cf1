"""The core stays pure: importing it loads no I/O library (checked in a fresh interpreter)."""

import subprocess
import sys

PURE_MODULES = [
    "scheduler.core.scheduler_core",
    "scheduler.status.document",
    "scheduler.offers.book",
    "scheduler.nodes.registry",
    "scheduler.metrics.scheduler_metrics",
    "scheduler.resources.accounting",
    "scheduler.tasks.registry",
]
IO_LIBRARIES = ["aiohttp", "sqlalchemy", "kombu", "hvac", "elasticsearch", "asyncio"]


def test_core_imports_no_io_library():
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in PURE_MODULES)
        + f"print([m for m in {IO_LIBRARIES!r} if m in sys.modules])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
