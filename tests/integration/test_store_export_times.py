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


# Values whose text differs most between writers: whole numbers, a negative zero,
# binary fractions, the shortest exact text of a sum, exponents both ways.
VALUES = (3.0, -0.0, 41.5, 0.1 + 0.2, 1e-05, -17.0, 123456789.125, 0.0001, 2.5e-300, 1e16)


async def test_csv_lines_read_as_python_writes_them(migrated: Settings) -> None:
    """The export's CSV, written by PostgreSQL's COPY, holds the lines the Python
    formatting it replaced wrote: ``{time},{device},{metric},{value!r},{unit}``."""
    async with await aconnect(migrated.database_url, "test") as conn:
        await conn.execute(
            "INSERT INTO devices (device_id, profile) VALUES ('ex-2', 'street_light')"
        )
        await conn.execute(
            "INSERT INTO series (device, metric) SELECT id, m FROM devices, "
            "unnest(ARRAY['power', 'voltage']) m WHERE device_id = 'ex-2'"
        )
        cur = await conn.execute(
            "SELECT s.metric, s.id, d.id FROM series s JOIN devices d ON d.id = s.device "
            "WHERE d.device_id = 'ex-2'"
        )
        ids = {m: (sid, did) for m, sid, did in await cur.fetchall()}
        base = datetime(2026, 3, 29, 0, 0, 0, tzinfo=UTC)
        rows = [
            (metric, base + timedelta(seconds=i, microseconds=7 * i), v)
            for metric in ("power", "voltage")
            for i, v in enumerate(VALUES)
        ]
        for metric, t, v in rows:
            await conn.execute(
                "INSERT INTO readings (series_id, time, value) VALUES (%s, %s, %s)",
                (ids[metric][0], t, v),
            )
        await conn.commit()
        blocks = [
            b
            async for _, b in readings.stream_export_csv(
                conn,
                [ids["power"][1]],
                metrics=None,
                start=base,
                end=base + timedelta(hours=1),
                units={("ex-2", "power"): "W"},
            )
        ]
    expected = [
        f"{t.isoformat().replace('+00:00', 'Z')},ex-2,{metric},{v!r},"
        + ("W" if metric == "power" else "")
        for metric, t, v in rows
    ]
    got = "".join(blocks).splitlines()
    assert got == expected
    assert [float(line.split(",")[3]) for line in got] == [v for _, _, v in rows]
