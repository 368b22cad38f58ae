"""Optional: the TimescaleDB path against the official TimescaleDB image, through
testcontainers. Runs only with HUB_TEST_DOCKER=1 on a machine with a Docker engine
(pip install '.[docker]'); otherwise it is skipped and says why. The suite's
TimescaleDB path does not depend on it: the private PostgreSQL preloads the
extension whenever it is installed."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from hub.model import Item, Reading
from hub.store.db import aconnect, connect
from hub.store.migrate import migrate
from hub.store.writer import BatchWriter

IMAGE = "timescale/timescaledb:2.17.2-pg16"


def _docker_engine() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    return subprocess.run([docker, "info"], capture_output=True, check=False).returncode == 0


@pytest.fixture(scope="module")
def timescale_url() -> Iterator[str]:
    if os.environ.get("HUB_TEST_DOCKER") != "1":
        pytest.skip("HUB_TEST_DOCKER is not 1: the TimescaleDB container path is not run")
    if not _docker_engine():
        pytest.skip("HUB_TEST_DOCKER=1 but no Docker engine answers `docker info`")
    containers = pytest.importorskip(
        "testcontainers.postgres", reason="testcontainers not installed: pip install '.[docker]'"
    )
    with containers.PostgresContainer(IMAGE, driver=None) as pg:
        yield pg.get_connection_url()


async def test_timescale_image_migrates_and_stores_readings(timescale_url: str) -> None:
    with connect(timescale_url, "test") as conn:
        assert migrate(conn, storage="timescale") == "timescale"
    at = datetime(2026, 1, 1, tzinfo=UTC)
    writer = BatchWriter(timescale_url, storage="timescale", auto_register=True)
    try:
        await writer.write(
            [Item("t", b"{}", at, "lm-1", "load_meter", (Reading("lm-1", "a", at, 1.5),))], []
        )
    finally:
        await writer.close()
    async with await aconnect(timescale_url, "test") as conn:
        cur = await conn.execute("SELECT value FROM readings")
        assert await cur.fetchall() == [(1.5,)]
