"""setup.py declares what the code needs: every package data glob matches a file, every
third-party module the package imports is an install requirement, and every requirement's lower
bound is a version the tests ran against (the pin in constraints.txt)."""

from __future__ import annotations

import ast
import sys
from distutils.core import run_setup
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

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


# Lower bounds below the pin in constraints.txt, each also tested (cabb227: requests 2.31.0 and 2.34.2).
TESTED_BELOW_THE_PIN = {"requests": "2.31"}


def pinned_versions() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = Version(version)
    return pins


def test_every_lower_bound_is_a_tested_version(distribution):
    """Issue 9: the bounds were far below anything tested (aiohttp>=3.9, kombu>=5.3, pytest>=8)."""
    pins = pinned_versions()
    requirements = [*distribution.install_requires, *distribution.extras_require["dev"]]
    wrong = []
    for text in requirements:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        lower = [Version(spec.version) for spec in requirement.specifier if spec.operator == ">="]
        tested = Version(TESTED_BELOW_THE_PIN[name]) if name in TESTED_BELOW_THE_PIN else pins.get(name)
        if len(lower) != 1 or tested is None or lower[0] != tested or pins[name] not in requirement.specifier:
            wrong.append(f"{text} (pinned {pins.get(name)})")
    assert wrong == []
