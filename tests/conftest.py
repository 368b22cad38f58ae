"""Fixtures shared by the integration and e2e suites (warnings are errors: see
pyproject). Nothing starts unless a test asks for it: unit tests start no services.

Real PostgreSQL and Mosquitto, private to the test session, started from the
system's binaries (hub.devstack). One server of each per session; each test gets
its own freshly migrated database and its own topic prefix.

TimescaleDB is preloaded whenever the extension is installed; tests that take the
``storage`` fixture run once per storage level, and the timescale run is skipped
with its reason when the extension is missing.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.config import Settings
from hub.devstack import Devstack, timescaledb_installed
from hub.store.db import connect
from hub.store.migrate import migrate
from tests.stack import stack_settings

TEST_PROFILES = Path(__file__).parent / "integration" / "profiles"
_counter = itertools.count()


@pytest.fixture(scope="session")
def stack() -> Iterator[Devstack]:
    root = Path(tempfile.mkdtemp(prefix="hub-test-"))
    root.chmod(0o755)
    devstack = Devstack(root, durable=False).start()
    try:
        yield devstack
    finally:
        devstack.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A temporary folder that the 'postgres' user can enter (pytest's tmp_path sits
    under a 0700 folder, and PostgreSQL runs as 'postgres' when tests run as root)."""
    path = Path(tempfile.mkdtemp(prefix="hub-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(params=["plain", "timescale"])
def storage(request: pytest.FixtureRequest, stack: Devstack) -> str:
    level: str = request.param
    if level == "timescale" and not stack.postgres.timescaledb:
        pytest.skip(
            "TimescaleDB extension not installed for this PostgreSQL: "
            "timescale storage path not exercised"
        )
    return level


@pytest.fixture
def default_storage(stack: Devstack) -> str:
    """The level a default installation gets here: timescale when installed."""
    return "timescale" if timescaledb_installed() else "plain"


@pytest.fixture
def database_url(stack: Devstack) -> str:
    return stack.postgres.create_database(f"test_{os.getpid()}_{next(_counter)}")


@pytest.fixture
def settings(request: pytest.FixtureRequest, stack: Devstack, database_url: str) -> Settings:
    n = next(_counter)
    return stack_settings(
        stack,
        database_url,
        topic_prefix=f"t{n}",
        client_id=f"hub-test-{n}",
        profiles_dir=TEST_PROFILES,
    )


@pytest.fixture
def migrated(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """Settings of a migrated database, at the ``storage`` level when the test asks
    for one, else at the default level."""
    level = (
        request.getfixturevalue("storage")
        if "storage" in request.fixturenames
        else request.getfixturevalue("default_storage")
    )
    with connect(settings.database_url, "test") as conn:
        assert migrate(conn, storage=level) == level
    return settings
