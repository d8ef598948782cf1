"""setup.py declares what the code needs: every package data glob matches a file, and every
third-party module the package imports is an install requirement."""

from __future__ import annotations

import ast
import sys
from distutils.core import run_setup
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def distribution():
    return run_setup(str(ROOT / "setup.py"), stop_after="init")


def test_every_package_data_glob_matches_a_file(distribution):
    for package, patterns in distribution.package_data.items():
        folder = ROOT.joinpath(*package.split("."))
        assert package in distribution.packages, package
        for pattern in patterns:
            assert [p for p in folder.glob(pattern) if p.is_file()], f"{package}: {pattern} matches nothing"


# Import names that differ from the distribution names in setup.py.
DISTRIBUTION_OF = {"yaml": "pyyaml", "psycopg2": "psycopg2-binary", "prometheus_client": "prometheus-client"}


def imported_top_level_modules() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "scheduler").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"scheduler", "__future__"}


def test_every_imported_library_is_declared(distribution):
    declared = {
        requirement.split(">")[0].split("<")[0].split("=")[0].strip().lower()
        for requirement in distribution.install_requires
    }
    missing = {name for name in imported_top_level_modules() if DISTRIBUTION_OF.get(name, name).lower() not in declared}
    assert missing == set()
