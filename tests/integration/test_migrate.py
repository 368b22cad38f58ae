"""Migrations against a real PostgreSQL, at each storage level."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hub.config import Settings
from hub.devstack import Devstack
from hub.errors import MigrationError
from hub.store.db import connect
from hub.store.migrate import discover, migrate, storage_level
from tests.integration.helpers import hub_env


def test_migrate_twice_changes_nothing_and_keeps_level(settings: Settings, storage: str) -> None:
    with connect(settings.database_url, "test") as conn:
        assert migrate(conn, storage=storage) == storage
        applied = conn.execute(
            "SELECT version, variant FROM schema_migrations ORDER BY 1"
        ).fetchall()
        assert migrate(conn, storage="auto") == storage
        again = conn.execute("SELECT version, variant FROM schema_migrations ORDER BY 1").fetchall()
        assert storage_level(conn) == storage
    assert applied == again
    expected = {m.version for m in discover() if m.variant in ("all", storage)}
    assert {v for v, _ in applied} == expected


def test_timescale_level_makes_readings_a_hypertable(settings: Settings, storage: str) -> None:
    with connect(settings.database_url, "test") as conn:
        migrate(conn, storage=storage)
        hypertable = conn.execute(
            "SELECT to_regclass('timescaledb_information.hypertables') IS NOT NULL"
        ).fetchone()
        if storage == "timescale":
            row = conn.execute(
                "SELECT count(*) FROM timescaledb_information.hypertables "
                "WHERE hypertable_name = 'readings'"
            ).fetchone()
            assert row == (1,)
            caggs = conn.execute(
                "SELECT view_name FROM timescaledb_information.continuous_aggregates ORDER BY 1"
            ).fetchall()
            assert caggs == [("readings_1d",), ("readings_1h",)]
        else:
            assert hypertable == (False,)
            tables = conn.execute(
                "SELECT to_regclass('readings_1h') IS NOT NULL, to_regclass('readings_1d') IS NOT NULL"
            ).fetchone()
            assert tables == (True, True)


def test_asking_for_timescale_without_the_extension_fails_clearly(
    settings: Settings, stack: Devstack
) -> None:
    if stack.postgres.timescaledb:
        pytest.skip("TimescaleDB is installed here; the missing-extension error cannot occur")
    with (
        connect(settings.database_url, "test") as conn,
        pytest.raises(MigrationError, match="timescale"),
    ):
        migrate(conn, storage="timescale")


def test_hub_migrate_command_reports_the_level(settings: Settings, default_storage: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hub", "migrate"],
        env=hub_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert f"storage level: {default_storage}" in result.stdout


def test_hub_run_on_unmigrated_database_says_to_migrate(settings: Settings) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hub", "run"],
        env=hub_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "run 'hub migrate' first" in result.stderr
