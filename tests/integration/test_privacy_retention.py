"""Retention of personal data at both storage levels, across the boundary: raw
readings of personal devices older than the cutoff go, their rollups stay (also
through a later refresh of TimescaleDB's continuous aggregates over all time), and
public devices keep everything."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hub.config import Settings
from hub.privacy import retention
from hub.privacy.classes import sync_profile_classes
from hub.profiles import load_profiles
from hub.store import bulk
from hub.store.db import aconnect, connect
from tests.integration.helpers import HubProcess, metric_value, wait_for
from tests.repo import REPO

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DAYS = 400
CUTOFF = retention.cutoff_for(NOW, DAYS)  # 2025-10-27T00:00Z
STEP = timedelta(minutes=10)
# Two days each side of the cutoff, every 10 minutes.
FIRST = CUTOFF - timedelta(days=2)
LAST = CUTOFF + timedelta(days=2) - STEP
DEVICES = {"wm-1": "water_meter", "wm-2": "water_meter", "aq-1": "air_quality"}
ROLLUP_SNAPSHOT = """
SELECT d.device_id, s.metric, h.bucket, h.count, h.sum, h.min, h.max, h.first, h.last
FROM {table} h JOIN series s ON s.id = h.series_id JOIN devices d ON d.id = s.device
ORDER BY 1, 2, 3
"""
RAW = """
SELECT d.device_id, count(*), min(r.time), max(r.time)
FROM readings r JOIN series s ON s.id = r.series_id JOIN devices d ON d.id = s.device
GROUP BY 1 ORDER BY 1
"""


def _fill(settings: Settings, level: str) -> None:
    with connect(settings.database_url, "test") as conn:
        sync_profile_classes(conn, load_profiles(REPO / "device_profiles"))
        for device_id, profile in DEVICES.items():
            conn.execute(
                "INSERT INTO devices (device_id, profile, district) VALUES (%s, %s, 'Sentrum')",
                (device_id, profile),
            )
            metric = "volume" if profile == "water_meter" else "no2"
            conn.execute(
                "INSERT INTO series (device, metric) "
                "SELECT id, %s FROM devices WHERE device_id = %s",
                (metric, device_id),
            )
        conn.execute(
            "INSERT INTO readings (series_id, time, value) "
            "SELECT s.id, t, s.id * 1000 + extract(epoch FROM t - %(first)s) / 600 "
            "FROM series s, generate_series(%(first)s::timestamptz, %(last)s, %(step)s) t",
            {"first": FIRST, "last": LAST, "step": STEP},
        )
        conn.commit()
        conn.autocommit = True  # a refresh cannot run inside a transaction
        bulk.build_rollups(conn, level)


def _rollups(settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    with connect(settings.database_url, "test") as conn:
        return {
            table: conn.execute(ROLLUP_SNAPSHOT.format(table=table)).fetchall()  # type: ignore[call-overload]
            for table in ("readings_1h", "readings_1d")
        }


def _raw(settings: Settings) -> dict[str, tuple[int, datetime, datetime]]:
    with connect(settings.database_url, "test") as conn:
        return {d: (n, lo, hi) for d, n, lo, hi in conn.execute(RAW).fetchall()}


def _refresh_everything(settings: Settings) -> None:
    with connect(settings.database_url, "test", autocommit=True) as conn:
        for statement in bulk.REFRESH_CAGGS:
            conn.execute(statement)


async def _run(settings: Settings, level: str) -> retention.RetentionRun:
    async with await aconnect(settings.database_url, "test", autocommit=True) as conn:
        run = await retention.run_once(conn, level, DAYS, now=NOW)
    assert run is not None
    return run


def _hourly_rows(rollups: dict[str, list[tuple[Any, ...]]], device_id: str) -> int:
    return sum(1 for row in rollups["readings_1h"] if row[0] == device_id)


async def test_retention_deletes_old_personal_raw_and_keeps_every_rollup(
    migrated: Settings, storage: str
) -> None:
    _fill(migrated, storage)
    before = _rollups(migrated)
    per_device = 4 * 24 * 6  # four days of 10-minute readings
    assert _hourly_rows(before, "wm-1") == 4 * 24

    run = await _run(migrated, storage)

    assert run.cutoff == CUTOFF == datetime(2025, 10, 27, tzinfo=UTC)
    assert run.deleted == 2 * (2 * 24 * 6)  # two meters, two days before the cutoff
    assert run.blocked_days == 0
    raw = _raw(migrated)
    # personal: the last reading before the cutoff is gone, the one at the cutoff stays
    for meter in ("wm-1", "wm-2"):
        assert raw[meter] == (per_device // 2, CUTOFF, LAST)
    # public: all of it
    assert raw["aq-1"] == (per_device, FIRST, LAST)
    # the rollups of every device, on both sides of the cutoff, are exactly as before
    assert _rollups(migrated) == before
    if storage == "timescale":
        # a refresh over all time (as after a backfill) must not erase them either
        _refresh_everything(migrated)
        assert _rollups(migrated) == before

    again = await _run(migrated, storage)
    assert again.deleted == 0
    assert _rollups(migrated) == before


async def test_retention_waits_for_rollups_that_do_not_hold_a_day_yet(
    migrated: Settings, storage: str
) -> None:
    """Plain level, rollups filled from a watermark: a day whose hourly rollups lag
    behind its raw readings is kept until they hold it."""
    if storage != "plain":
        pytest.skip("TimescaleDB refreshes its aggregates itself before deleting (rollup_keep)")
    _fill(migrated, storage)
    lagging = FIRST + timedelta(days=1, hours=5)  # the second day before the cutoff
    with connect(migrated.database_url, "test") as conn:
        # the refresh has not passed that hour yet: from there on, the rollups are
        # read from the raw readings (migration 0065)
        conn.execute("UPDATE rollup_watermark SET watermark = %s", (lagging,))
        conn.execute("DELETE FROM readings_1h_mat WHERE bucket >= %s", (lagging,))
        conn.execute(
            "DELETE FROM readings_1d_mat WHERE bucket >= date_trunc('day', %s::timestamptz, 'UTC')",
            (lagging,),
        )
    run = await _run(migrated, storage)
    assert run.days == 1 and run.blocked_days == 1
    assert run.deleted == 2 * 24 * 6  # only the first day, of both meters
    assert _raw(migrated)["wm-1"][1] == FIRST + timedelta(days=1)

    with connect(migrated.database_url, "test") as conn:  # the refresh catches up
        conn.execute("SELECT hub_refresh_rollups(interval '0')")
    run = await _run(migrated, storage)
    assert run.days == 1 and run.blocked_days == 0
    assert _raw(migrated)["wm-1"][1] == CUTOFF


async def test_retention_finishes_a_day_a_crash_left_in_the_hold(migrated: Settings) -> None:
    """TimescaleDB: rows held and raw deleted, then the process died before the
    restore: the next run puts them back, and a full refresh keeps them."""
    with connect(migrated.database_url, "test") as conn:
        level = conn.execute("SELECT value FROM hub_meta WHERE key = 'storage_level'").fetchone()
    if level is None or level[0] != "timescale":
        pytest.skip("the hold is used at the TimescaleDB level only, and it is not installed")
    _fill(migrated, "timescale")
    before = _rollups(migrated)
    day = FIRST
    with connect(migrated.database_url, "test") as conn:
        hourly = conn.execute(
            "SELECT format('%I.%I', materialization_hypertable_schema, "
            "materialization_hypertable_name) FROM timescaledb_information.continuous_aggregates "
            "WHERE view_name = 'readings_1h'"
        ).fetchone()
        assert hourly is not None
        personal = "SELECT s.id FROM series s JOIN devices d ON d.id = s.device WHERE d.data_class = 'personal'"
        conn.execute(
            f"INSERT INTO personal_rollup_hold SELECT series_id, bucket, count, sum, min, max, "
            f"first_time, first, last_time, last FROM {hourly[0]} "
            f"WHERE series_id IN ({personal}) AND bucket >= %s AND bucket < %s",
            (day, day + timedelta(days=1)),
        )
        conn.execute(
            f"DELETE FROM readings WHERE series_id IN ({personal}) AND time >= %s AND time < %s",
            (day, day + timedelta(days=1)),
        )
    _refresh_everything(migrated)  # the crash's damage: the held hours are gone
    assert _rollups(migrated) != before

    run = await _run(migrated, "timescale")
    assert run.restored_days == 1
    _refresh_everything(migrated)
    assert _rollups(migrated) == before
    with connect(migrated.database_url, "test") as conn:
        assert conn.execute("SELECT count(*) FROM personal_rollup_hold").fetchone() == (0,)


def test_the_hub_runs_the_retention_job_and_counts_it(migrated: Settings, open_tmp: Path) -> None:
    """`hub run` deletes personal raw readings past HUB_PERSONAL_RETENTION_DAYS on its
    own schedule, and /metrics says what it did."""
    with connect(migrated.database_url, "test") as conn:
        level = conn.execute("SELECT value FROM hub_meta WHERE key = 'storage_level'").fetchone()
    assert level is not None
    now = datetime.now(UTC)
    with connect(migrated.database_url, "test") as conn:
        sync_profile_classes(conn, load_profiles(REPO / "device_profiles"))
        conn.execute("INSERT INTO devices (device_id, profile) VALUES ('wm-old', 'water_meter')")
        conn.execute(
            "INSERT INTO series (device, metric) SELECT id, 'volume' FROM devices "
            "WHERE device_id = 'wm-old'"
        )
        conn.execute(
            "INSERT INTO readings (series_id, time, value) "
            "SELECT s.id, t, 1 FROM series s, "
            "generate_series(%(start)s::timestamptz, %(end)s, interval '1 hour') t",
            {"start": now - timedelta(days=5), "end": now},
        )
        conn.commit()
        conn.autocommit = True
        bulk.build_rollups(conn, level[0])
    expected = len(
        [
            t
            for t in (now - timedelta(days=5) + timedelta(hours=h) for h in range(5 * 24 + 1))
            if t < retention.cutoff_for(now, 2)
        ]
    )
    hub = HubProcess(
        migrated,
        open_tmp,
        HUB_PROFILES_DIR=str(REPO / "device_profiles"),
        HUB_PERSONAL_RETENTION_DAYS="2",
        HUB_PERSONAL_RETENTION_INTERVAL_S="0.5",
    ).start()
    try:
        hub.wait_ready()
        wait_for(
            lambda: metric_value(hub.port, 'hub_privacy_retention_runs_total{outcome="ok"}') >= 2,
            30,
            "two runs of the retention job",
        )
        assert metric_value(hub.port, "hub_privacy_retention_deleted_readings_total") == expected
        age = metric_value(hub.port, "hub_privacy_retention_oldest_raw_age_seconds")
        assert 2 * 86400 - 3600 < age <= 3 * 86400
        assert metric_value(hub.port, "hub_privacy_retention_blocked_days") == 0
    finally:
        hub.stop()
    with connect(migrated.database_url, "test") as conn:
        oldest = conn.execute("SELECT min(time) FROM readings").fetchone()
    assert oldest is not None and oldest[0] >= retention.cutoff_for(now, 2)
