"""The CSV export's times are formatted by PostgreSQL (hub.store.readings): they
must read exactly as RFC 3339 in UTC as Python's isoformat writes them, fractions
only where there are some, at each storage level."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hub.config import Settings
from hub.store import readings
from hub.store.db import aconnect

TIMES = (
    datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC),  # the night Oslo moves its clocks
    datetime(2026, 3, 29, 1, 0, 0, 250_000, tzinfo=UTC),
    datetime(2026, 3, 29, 1, 0, 1, 7, tzinfo=UTC),
)


async def test_export_times_read_as_isoformat_in_utc(migrated: Settings) -> None:
    async with await aconnect(migrated.database_url, "test") as conn:
        await conn.execute(
            "INSERT INTO devices (device_id, profile) VALUES ('ex-1', 'street_light')"
        )
        cur = await conn.execute(
            "INSERT INTO series (device, metric) SELECT id, 'power' FROM devices RETURNING id"
        )
        row = await cur.fetchone()
        assert row is not None
        for i, t in enumerate(TIMES):
            await conn.execute(
                "INSERT INTO readings (series_id, time, value) VALUES (%s, %s, %s)",
                (row[0], t, i + 0.5),
            )
        await conn.commit()
        cur = await conn.execute("SELECT id FROM devices")
        (device,) = await cur.fetchone() or (0,)
        out = [
            r
            async for chunk in readings.stream_export(
                conn,
                [device],
                metrics=None,
                start=TIMES[0] - timedelta(hours=1),
                end=TIMES[-1] + timedelta(hours=1),
            )
            for r in chunk
        ]
    assert out == [
        ("ex-1", "power", t.isoformat().replace("+00:00", "Z"), i + 0.5)
        for i, t in enumerate(TIMES)
    ]
