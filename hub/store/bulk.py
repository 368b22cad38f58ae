"""Bulk loads and counts for the benchmarks (bench/): a synthetic fleet written in
one statement per table, the rollups built as the hub keeps them, old chunks
compressed as the hub's policy would, and counts of what the ingest stored.

They live here, beside the migrations, rather than in bench/: a migration that
breaks one of them fails the store's tests (tests/integration/test_store_bulk.py)
instead of a benchmark silently measuring the wrong thing. ``readings_shape``
lets a benchmark that builds tables of its own check that they still look like
the hub's ``readings``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from hub.store import rollups
from hub.store.db import Conn

# A street-light fleet: ``devices`` rows sl-00001.., placed in a grid over four districts.
FILL_DEVICES = """
INSERT INTO devices (device_id, profile, name, district, lat, lon, status, last_seen)
SELECT format('sl-%%s', lpad(i::text, 5, '0')), %(profile)s, format('Pole %%s', i),
       (ARRAY['Sentrum', 'Lade', 'Byåsen', 'Heimdal'])[1 + i %% 4],
       63.40 + (i %% 100) * 0.0005, 10.35 + (i / 100) * 0.001, 'online', now()
FROM generate_series(1, %(devices)s) i
"""
FILL_SERIES = """
INSERT INTO series (device, metric)
SELECT d.id, m FROM devices d, unnest(%(metrics)s::text[]) m ORDER BY d.id, m
"""
# Series by series, so each series' part of the primary key is written in order.
FILL_READINGS = """
INSERT INTO readings (series_id, time, value)
SELECT s.id, t,
       CASE s.metric
           WHEN 'power' THEN round((40 + 20 * random())::numeric, 1)::float8
           WHEN 'voltage' THEN round((228 + 4 * random())::numeric, 1)::float8
           ELSE (10 * floor(10 * random()))::float8
       END
FROM series s
CROSS JOIN generate_series(%(start)s::timestamptz, %(end)s::timestamptz, %(step)s::interval) t
"""
# TimescaleDB level: the continuous aggregates, refreshed over all time.
REFRESH_CAGGS = (
    "CALL refresh_continuous_aggregate('readings_1h', NULL, NULL)",
    "CALL refresh_continuous_aggregate('readings_1d', NULL, NULL)",
)
COMPRESS_OLDER_THAN = """
SELECT count(compress_chunk(c, if_not_compressed => true))
FROM show_chunks('readings', older_than => make_interval(days => %(days)s)) c
"""
COUNT_READINGS = "SELECT count(*) FROM readings"
STORED_BY_PREFIX = """
SELECT count(*), count(DISTINCT (r.series_id, r.time))
FROM readings r JOIN series s ON s.id = r.series_id
JOIN devices d ON d.id = s.device WHERE d.device_id LIKE %(pattern)s
"""
METRIC_SINCE = """
SELECT count(*) FROM readings r JOIN series s ON s.id = r.series_id
WHERE s.metric = %(metric)s AND r.time >= %(since)s
"""
READINGS_COLUMNS = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod)
FROM pg_attribute a
WHERE a.attrelid = 'readings'::regclass AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""
READINGS_PRIMARY_KEY = """
SELECT a.attname
FROM pg_index i
CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = 'readings'::regclass AND i.indisprimary
ORDER BY k.n
"""


def fill_fleet(
    conn: Conn,
    *,
    devices: int,
    metrics: Sequence[str],
    start: datetime,
    end: datetime,
    step: str = "15 minutes",
    profile: str = "street_light",
) -> None:
    """``devices`` devices of ``profile``, a series per metric, and a reading per
    series every ``step`` from ``start`` to ``end`` (both included)."""
    conn.execute(FILL_DEVICES, {"devices": devices, "profile": profile})
    conn.execute(FILL_SERIES, {"metrics": list(metrics)})
    conn.execute(FILL_READINGS, {"start": start, "end": end, "step": step})


def build_rollups(conn: Conn, level: str) -> None:
    """The hourly and daily rollups of everything in readings, as the hub keeps them
    at this storage level (materialized up to the newest hour, or continuous
    aggregates refreshed). Needs an autocommit connection at the timescale level."""
    if level == "plain":
        rollups.rebuild(conn)
        return
    for statement in REFRESH_CAGGS:
        conn.execute(statement)


def compress_older_than(conn: Conn, days: int) -> int:
    """Compress the TimescaleDB chunks older than ``days``; the number compressed."""
    row = conn.execute(COMPRESS_OLDER_THAN, {"days": days}).fetchone()
    return int(row[0]) if row else 0


def count_readings(conn: Conn) -> int:
    row = conn.execute(COUNT_READINGS).fetchone()
    return int(row[0]) if row else 0


def stored_by_prefix(conn: Conn, prefix: str) -> tuple[int, int]:
    """(readings, distinct (series, time)) of the devices whose id starts with prefix."""
    pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    row = conn.execute(STORED_BY_PREFIX, {"pattern": pattern}).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def count_metric_since(conn: Conn, metric: str, since: datetime) -> int:
    """Readings of ``metric`` (any device) at or after ``since``."""
    row = conn.execute(METRIC_SINCE, {"metric": metric, "since": since}).fetchone()
    return int(row[0]) if row else 0


def readings_shape(conn: Conn) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    """The readings table as ((column, type), ...) and its primary-key columns."""
    columns = tuple((str(n), str(t)) for n, t in conn.execute(READINGS_COLUMNS).fetchall())
    key = tuple(str(n) for (n,) in conn.execute(READINGS_PRIMARY_KEY).fetchall())
    return columns, key
