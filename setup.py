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
    package_data={"scheduler": ["store/migrations/*.ini", "store/migrations/*.mako", "api/static/*"]},
    include_package_data=True,
    install_requires=[
        "aiohttp>=3.14,<4",  # scheduler/api/server.py relies on 3.14's request handler
        "SQLAlchemy>=2.0,<3",
        "psycopg2-binary>=2.9",
        "alembic>=1.12",
        "kombu>=5.3",
        "elasticsearch>=8",
        "hvac>=2",
        "prometheus-client>=0.17",
        "orjson>=3.9",
        "PyYAML>=6",
        "brotli>=1.2",  # Content-Encoding: br for the status; optional at run time (gzip is always there)
    ],
    extras_require={
        "dev": ["pytest>=8", "pytest-asyncio>=0.23", "hypothesis>=6.90", "ruff>=0.6", "schemathesis>=4.32"],
    },
    entry_points={"console_scripts": ["scale-scheduler=scheduler.cli:main"]},
)
