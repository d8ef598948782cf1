"""Packaging for scale-scheduler: a Mesos framework daemon serving Scale's v6 system API."""

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(r'__version__ = "([^"]+)"', (HERE / "scheduler" / "__init__.py").read_text()).group(1)

setup(
    name="scale-scheduler",
    version=VERSION,
    description="A Mesos framework that runs batch jobs and serves Scale's v6 system API",
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=find_packages(include=["scheduler", "scheduler.*"]),
    # Files other than Python modules, per package, as globs relative to the package's folder; each
    # must match a file (tests/test_packaging.py). A folder without __init__.py belongs to the package
    # above it, e.g. "scheduler.api": ["static/*"].
    package_data={
        "scheduler.store.migrations": ["script.py.mako"],
        "scheduler.api.dashboard": ["*.html", "*.js", "*.css", "*.svg"],
    },
    # Lower bounds are versions the tests ran against (the pins of constraints.txt, unless noted).
    install_requires=[
        "aiohttp>=3.14.5,<4",  # scheduler/api/server.py relies on 3.14's request handler
        "SQLAlchemy>=2.1.9,<3",
        "psycopg2-binary>=2.9.13",
        "alembic>=1.20.1",
        "kombu>=5.7.0,<6",  # scheduler.messaging.envelope relies on how kombu 5 builds a Message
        "elasticsearch>=9.5.1",
        "hvac>=2.4.0",
        "prometheus-client>=0.26.0",
        "orjson>=3.13.0",
        "PyYAML>=6.0.4",
        "requests>=2.31",  # the Vault check's session (2.31: proxy credentials no longer leak on redirects)
        # Imported directly, though also brought by kombu and aiohttp; bounds are the versions tested.
        "amqp>=5.4.2,<6",
        "yarl>=1.25.1,<2",
        "kazoo>=2.11.0",
        "brotli>=1.2.1",  # Content-Encoding: br for the status; optional at run time (gzip is always there)
    ],
    extras_require={
        "dev": [
            "pytest>=9.2.0",
            "pytest-asyncio>=1.5.0",
            "hypothesis>=6.170.17",
            "ruff>=0.17.6",
            "selenium>=4.51.0",
            "schemathesis>=4.32.5",
            "pip-audit>=2.10.1",
        ],
    },
    entry_points={"console_scripts": ["scale-scheduler=scheduler.cli:main"]},
)
