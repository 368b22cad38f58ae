"""The benchmarks' bulk loads (hub.store.bulk) on a migrated database at each storage
level: what they write is what the API's own queries read, so a migration that
breaks them fails here and not silently in a benchmark."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bench.schema import HUB_READINGS
from hub.config import Settings
from hub.store import bulk, readings
from hub.store import devices as device_store
from hub.store.db import aconnect, connect

METRICS = ("dim_level", "power", "voltage")
DEVICES = 3
DAYS = 9  # some chunks older than the compression policy's 7 days


def test_readings_table_has_the_shape_the_benchmarks_copy(migrated: Settings) -> None:
    with connect(migrated.database_url, "test") as conn:
        assert bulk.readings_shape(conn) == HUB_READINGS


async def test_filled_fleet_is_what_the_api_queries_read(storage: str, migrated: Settings) -> None:
    end = datetime(2026, 1, 10, tzinfo=UTC)
    start = end - timedelta(days=DAYS)
    per_series = DAYS * 24 * 4 + 1  # every 15 minutes, both ends included
    with connect(migrated.database_url, "test", autocommit=True) as conn:
        bulk.fill_fleet(conn, devices=DEVICES, metrics=METRICS, start=start, end=end)
        bulk.build_rollups(conn, storage)
        compressed = bulk.compress_older_than(conn, days=7) if storage == "timescale" else 0
        assert bulk.count_readings(conn) == DEVICES * len(METRICS) * per_series
        assert bulk.stored_by_prefix(conn, "sl-") == (DEVICES * len(METRICS) * per_series,) * 2
        assert bulk.stored_by_prefix(conn, "sl_") == (0, 0)  # a prefix, not a pattern
        assert bulk.count_metric_since(conn, "power", start) == DEVICES * per_series
        assert bulk.count_metric_since(conn, "power", end) == DEVICES
    if storage == "timescale":
        assert compressed > 0

    async with await aconnect(migrated.database_url, "test") as conn:
        fleet = await device_store.list_devices(conn, device_store.DeviceFilter(), limit=10)
        assert [d.device_id for d in fleet] == ["sl-00001", "sl-00002", "sl-00003"]
        assert {d.profile for d in fleet} == {"street_light"}
        latest = await readings.latest_page(conn, device_store.DeviceFilter(), limit=10)
        assert {(device, metric) for device, _, metric, _, _ in latest} == {
            (d.device_id, m) for d in fleet for m in METRICS
        }
        assert all(at == end for _, _, _, at, _ in latest)
        grid = readings.make_grid(timedelta(hours=1), "UTC", start, end)
        hourly = await readings.buckets(conn, fleet[0].id, metrics=None, grid=grid, aggregate="avg")
        # Every metric has a mean in every hour of the span, read from the rollups.
        assert len(hourly) == DAYS * 24 * len(METRICS)
        power = [b for b in hourly if b.metric == "power"]
        assert all(40 <= b.value <= 60 for b in power)
