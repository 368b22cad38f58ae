"""The year benchmark's bulk load of a town (hub.store.bulk_town) and its store
queries (hub.store.year_store) at each storage level: every series gets one reading
per reporting interval, values shaped like the metric, and the policies' end state
is what the API's rollups read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bench.year import town_rows
from hub.config import Settings
from hub.store import bulk_town, year_store
from hub.store.db import aconnect, connect

START = datetime(2026, 1, 1, tzinfo=UTC)
END = START + timedelta(days=9)  # some chunks older than the compression policy's 7 days
STEP = {"street_light": 300, "water_meter": 900, "air_quality": 300}
METRIC_OF = """
SELECT min(r.value), max(r.value), count(*) FROM readings r
JOIN series s ON s.id = r.series_id JOIN devices d ON d.id = s.device
WHERE d.profile = %s AND s.metric = %s
"""


async def test_town_year_load_and_its_queries(storage: str, migrated: Settings) -> None:
    rows = town_rows(20)
    per_profile = {p: sum(1 for r in rows if r["profile"] == p) for p in STEP}
    assert per_profile == {"street_light": 14, "water_meter": 5, "air_quality": 1}
    with connect(migrated.database_url, "test", autocommit=True) as conn:
        year_store.pause_jobs(conn, storage)
        bulk_town.insert_devices(conn, rows)
        written = 0
        for a, b in bulk_town.slices(START, END, timedelta(days=1)):
            for profile, step in STEP.items():
                written += bulk_town.fill_slice(conn, profile, a, b, timedelta(seconds=step))
        expected = sum(
            per_profile[p] * len(bulk_town.TOWN_METRICS[p]) * 9 * 86400 // s
            for p, s in STEP.items()
        )
        assert written == expected
        # Values shaped like the metric: lamps on or off, a register that only rises.
        lo, hi, n = conn.execute(METRIC_OF, ("street_light", "lamp_on")).fetchone() or ()
        assert (lo, hi, n) == (0, 1, 14 * 9 * 288)
        lo, hi, _ = conn.execute(METRIC_OF, ("air_quality", "battery")).fetchone() or ()
        assert 0 < lo <= hi <= 100
        if storage == "timescale":
            for view in ("readings_1h", "readings_1d"):
                for a, b in year_store.months(conn):
                    year_store.refresh(conn, view, a, b)
            chunks = year_store.chunks_to_compress(conn)
            assert chunks  # the data is older than compress_after
            for chunk in chunks:
                year_store.compress(conn, chunk)
        else:
            year_store.fill_rollups_plain(conn)
        assert year_store.count(conn) == expected
        sizes = year_store.sizes(conn, storage)
        assert set(sizes) == {"readings", "readings_1h", "readings_1d"}
        assert all(v["table"] > 0 for v in sizes.values())
    district = next(r["district"] for r in rows if r["profile"] == "water_meter")
    async with await aconnect(migrated.database_url, "test") as aconn:
        days = await year_store.district_daily(
            aconn, str(district), "water_meter", "flow", START, END
        )
    assert [d for d, _ in days] == [START + timedelta(days=i) for i in range(9)]
    assert all(v > 0 for _, v in days)
