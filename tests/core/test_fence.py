"""The pure packages stay pure: no I/O library, no wall clock, no edge package (``scheduler.mesos``,
``runtime``, ``store``, ``api``, ...). Every module of every pure package is checked, found by
walking the packages, so a new module is covered without being listed here.
"""

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import scheduler

PURE_PACKAGES = ["offers", "nodes", "resources", "metrics", "tasks", "jobs", "scheduling", "core", "status"]
# Loaded by importing any pure module (checked in a fresh interpreter, so transitive imports count).
IO_LIBRARIES = ["aiohttp", "sqlalchemy", "kombu", "requests", "hvac", "elasticsearch", "asyncio", "alembic", "psycopg"]
EDGE_PACKAGES = [
    "scheduler.mesos",
    "scheduler.runtime",
    "scheduler.store",
    "scheduler.api",
    "scheduler.dependencies",
    "scheduler.messaging",
    "scheduler.sim",
    "scheduler.daemon",
]
# Imported directly by a pure module (``logging`` itself loads threading, so this is checked in the source).
FORBIDDEN_DIRECT = {"socket", "threading", "time", "subprocess", "urllib", "http", "concurrent", "select", "selectors"}
FORBIDDEN_CALLS = {("time", "time"), ("time", "monotonic"), ("datetime", "now"), ("datetime", "utcnow")}
ROOT = Path(scheduler.__file__).parent


def pure_modules() -> list[str]:
    names = []
    for package in PURE_PACKAGES:
        names.append(f"scheduler.{package}")
        names += [m.name for m in pkgutil.walk_packages([str(ROOT / package)], prefix=f"scheduler.{package}.")]
    return names


def test_every_pure_package_is_walked():
    modules = pure_modules()
    for package in PURE_PACKAGES:
        assert any(m.startswith(f"scheduler.{package}.") for m in modules), package
    assert "scheduler.core.events" in modules and "scheduler.scheduling.planner" in modules


def test_pure_packages_load_no_io_library_and_no_edge_package():
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in pure_modules())
        + f"print(sorted(m for m in sys.modules if m.split('.')[0] in {IO_LIBRARIES!r}"
        + f" or any(m == e or m.startswith(e + '.') for e in {EDGE_PACKAGES!r})))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def _violations(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in FORBIDDEN_DIRECT]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] in FORBIDDEN_DIRECT:
                found.append(node.module)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if (node.value.id, node.attr) in FORBIDDEN_CALLS:
                found.append(f"{node.value.id}.{node.attr}")
    return found


@pytest.mark.parametrize("module", pure_modules())
def test_pure_module_reads_no_clock_and_opens_no_socket_or_thread(module):
    path = ROOT.joinpath(*module.split(".")[1:])
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    assert _violations(path.read_text()) == []


def test_the_source_check_catches_what_it_should():
    assert _violations("import time\nx = time.time()") == ["time", "time.time"]
    assert _violations("from datetime import datetime\ndatetime.now()") == ["datetime.now"]
    assert _violations("import threading, socket") == ["threading", "socket"]
    assert _violations("from datetime import UTC, datetime\ndatetime.fromtimestamp(0, UTC)") == []


# Names under which the edges hold the core's state: nothing there may assign into it.
CORE_HOLDERS = {"state", "core"}
EDGE_PACKAGE_DIRS = ["runtime", "api", "dependencies", "mesos", "messaging", "store", "commands"]
EDGE_FILES = [
    *(path for package in EDGE_PACKAGE_DIRS for path in sorted(ROOT.joinpath(package).rglob("*.py"))),
    *(ROOT / name for name in ("daemon.py", "devmode.py", "apiserver.py", "cli.py", "aio.py")),
]


def _chain(expression: ast.expr) -> list[str]:
    """``self.engine.state.nodes[x].paused`` -> ["self", "engine", "state", "nodes", "paused"]."""
    chain, part = [], expression
    while isinstance(part, (ast.Attribute, ast.Subscript)):
        if isinstance(part, ast.Attribute):
            chain.append(part.attr)
        part = part.value
    if isinstance(part, ast.Name):
        chain.append(part.id)
    return chain[::-1]


def _assignments_into_core(source: str) -> list[str]:
    """Targets like ``state.paused = ...``, ``self.engine.state.nodes[x] = ...``, ``core.x += 1``,
    or ``s.paused = ...`` after ``s = self.state`` (a local alias of the core or of a part of it)."""
    tree = ast.parse(source)
    aliases = set()
    for node in ast.walk(tree):  # names bound to the core or to something inside it
        if isinstance(node, ast.Assign) and isinstance(node.value, (ast.Attribute, ast.Subscript, ast.Name)):
            if any(name in CORE_HOLDERS for name in _chain(node.value)[1:]) or _chain(node.value)[:1] == ["state"]:
                aliases |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    found = []
    for node in ast.walk(tree):
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, (ast.AugAssign, ast.AnnAssign))
            else []
        )
        for target in targets:
            chain = _chain(target)
            inside = chain[:-1]  # the holder must be passed through, not be what is (re)bound
            if any(name in CORE_HOLDERS for name in inside) or (len(chain) >= 2 and chain[0] in aliases):
                found.append(".".join(chain))
    return found


@pytest.mark.parametrize("path", EDGE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_edges_never_assign_into_the_core(path):
    """One owner: the engine changes the core only by posting inputs that ``apply`` handles."""
    assert _assignments_into_core(path.read_text()) == []


def test_the_assignment_check_catches_what_it_should():
    assert _assignments_into_core("self.state.paused = True") == ["self.state.paused"]
    assert _assignments_into_core("state.nodes['h'].is_paused = 1") == ["state.nodes.is_paused"]
    assert _assignments_into_core("core.messaging.desired_count += 2") == ["core.messaging.desired_count"]
    assert _assignments_into_core("self.engine.state.paused = True") == ["self.engine.state.paused"]
    assert _assignments_into_core("s = self.state\ns.paused = True") == ["s.paused"]
    assert _assignments_into_core("nodes = engine.state.nodes\nnodes.x = 1") == ["nodes.x"]
    assert _assignments_into_core("self.state = CoreState()\nstate = 1\nx = self.other\nx.y = 2") == []
