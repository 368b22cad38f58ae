"""What the year benchmark (bench/year.py) asks of the store besides the town's
readings: the storage level's background work run to its end state (continuous
aggregates refreshed, chunks compressed, plain rollups filled), the bytes on disk
per relation, and a district's daily sums.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hub.store import bulk, rollups
from hub.store.db import AsyncConn, Conn, connect

# Bulk-load settings for the benchmark's private server (not the hub's).
TUNE = (
    "ALTER SYSTEM SET max_wal_size = '8GB'",
    "ALTER SYSTEM SET maintenance_work_mem = '512MB'",
    "ALTER SYSTEM SET checkpoint_timeout = '15min'",
    "SELECT pg_reload_conf()",
)
PAUSE_JOBS = """
SELECT count(*) FROM timescaledb_information.jobs j
CROSS JOIN LATERAL alter_job(j.job_id, scheduled => false) a
WHERE j.hypertable_name IS NOT NULL
"""
CHUNK_INTERVAL = "SELECT set_chunk_time_interval('readings', make_interval(days => %(days)s))"
TIME_RANGE = "SELECT min(time), max(time) FROM readings"
REFRESH = {
    "readings_1h": "CALL refresh_continuous_aggregate('readings_1h', %(start)s, %(end)s)",
    "readings_1d": "CALL refresh_continuous_aggregate('readings_1d', %(start)s, %(end)s)",
}
# The chunks the compression policies would compress (each older than its policy's
# compress_after): the readings' and, since migration 0062, the aggregates'.
CHUNKS_TO_COMPRESS = """
SELECT c::text
FROM timescaledb_information.jobs j
CROSS JOIN LATERAL show_chunks(
    format('%I.%I', j.hypertable_schema, j.hypertable_name)::regclass,
    older_than => (j.config ->> 'compress_after')::interval) c
WHERE j.proc_name = 'policy_compression'
ORDER BY j.hypertable_name = 'readings' DESC, c::text
"""
COMPRESS = "SELECT compress_chunk(%(chunk)s::regclass, if_not_compressed => true)"
SIZES_TIMESCALE = """
SELECT 'readings', d.table_bytes + d.toast_bytes, d.index_bytes
FROM hypertable_detailed_size('readings') d
UNION ALL
SELECT c.view_name::text, d.table_bytes + d.toast_bytes, d.index_bytes
FROM timescaledb_information.continuous_aggregates c
CROSS JOIN LATERAL hypertable_detailed_size(
    format('%I.%I', c.materialization_hypertable_schema,
           c.materialization_hypertable_name)::regclass) d
"""
# The rollups are views over their materialized and late parts (migration 0065).
SIZES_PLAIN = """
SELECT split_part(c.relname, '_', 1) || coalesce('_' || nullif(split_part(c.relname, '_', 2), ''), ''),
       sum(pg_table_size(c.oid))::bigint, sum(pg_indexes_size(c.oid))::bigint
FROM pg_class c
WHERE c.relname IN ('readings', 'readings_1h_mat', 'readings_1h_late',
                    'readings_1d_mat', 'readings_1d_late') AND c.relkind = 'r'
GROUP BY 1
"""
# The compressed chunks alone: their bytes before and after (table, indexes, toast)
# and the readings in them (chunk bounds are whole days, so the daily rollup counts
# them exactly).
COMPRESSED = """
SELECT (SELECT count(*) FROM timescaledb_information.chunks
        WHERE hypertable_name = 'readings' AND is_compressed),
       coalesce(s.before_compression_total_bytes, 0), coalesce(s.after_compression_total_bytes, 0),
       (SELECT coalesce(sum(t.count), 0) FROM readings_1d t
        WHERE t.bucket < (SELECT max(range_end) FROM timescaledb_information.chunks
                          WHERE hypertable_name = 'readings' AND is_compressed))
FROM hypertable_compression_stats('readings') s
"""
COUNT = "SELECT coalesce(sum(count), 0)::bigint FROM readings_1d"

# A district's daily sums of one metric of one profile (say the water meters' flow),
# from the daily rollup; series chosen first so the filter reaches the aggregate.
DISTRICT_DAILY = """
SELECT t.bucket, sum(t.sum)
FROM readings_1d t
WHERE t.series_id = ANY(ARRAY(
        SELECT s.id FROM series s JOIN devices d ON d.id = s.device
        WHERE d.district = %(district)s AND d.profile = %(profile)s
          AND s.metric = %(metric)s))
  AND t.bucket >= %(start)s AND t.bucket < %(end)s
GROUP BY t.bucket
ORDER BY t.bucket
"""


def tune_server(admin_url: str) -> None:
    with connect(admin_url, "bench", autocommit=True) as conn:
        for statement in TUNE:
            conn.execute(statement)


def pause_jobs(conn: Conn, level: str) -> None:
    """Stop TimescaleDB's background jobs while loading (run to their end afterwards)."""
    if level == "timescale":
        conn.execute(PAUSE_JOBS)


def set_chunk_days(conn: Conn, days: int) -> None:
    """The chunk interval of readings from now on (chunks already made keep theirs)."""
    conn.execute(CHUNK_INTERVAL, {"days": days})


def months(conn: Conn) -> list[tuple[datetime, datetime]]:
    """Windows of 30 days over the readings' time range, whole days."""
    row = conn.execute(TIME_RANGE).fetchone()
    if row is None or row[0] is None:
        return []
    lo = row[0].replace(hour=0, minute=0, second=0, microsecond=0)
    hi = row[1] + timedelta(days=1)
    out = []
    while lo < hi:
        out.append((lo, min(lo + timedelta(days=30), hi)))
        lo += timedelta(days=30)
    return out


def refresh(conn: Conn, view: str, start: datetime, end: datetime) -> None:
    conn.execute(REFRESH[view], {"start": start, "end": end})


def chunks_to_compress(conn: Conn) -> list[str]:
    return [str(c) for (c,) in conn.execute(CHUNKS_TO_COMPRESS).fetchall()]


def compress(conn: Conn, chunk: str) -> None:
    conn.execute(COMPRESS, {"chunk": chunk})


def fill_rollups_plain(conn: Conn) -> None:
    bulk.build_rollups(conn, "plain")


def refresh_rollups_plain(conn: Conn) -> None:
    """Plain level: the rollups brought up to the newest reading after a top-up that
    wrote around the writer. The top-up's readings lie above the watermark (each
    profile's start after its newest reading), where the views read them raw until
    this refresh materializes them, as the hub's job would (migration 0065)."""
    conn.execute(rollups.REFRESH, {"lag": 0})


def sizes(conn: Conn, level: str) -> dict[str, dict[str, int]]:
    """``{relation: {table, indexes}}`` in bytes (a hypertable with all its chunks)."""
    rows = conn.execute(SIZES_TIMESCALE if level == "timescale" else SIZES_PLAIN).fetchall()
    return {str(n): {"table": int(t or 0), "indexes": int(i or 0)} for n, t, i in rows}


def compressed(conn: Conn) -> dict[str, float]:
    """The compressed chunks: how many, their readings, bytes before/after, per reading."""
    row = conn.execute(COMPRESSED).fetchone()
    if row is None:
        return {}
    chunks, before, after, n = (int(v or 0) for v in row)
    per = round(after / n, 2) if n else 0.0
    return {
        "chunks": chunks,
        "readings": n,
        "bytes_before": before,
        "bytes_after": after,
        "bytes_per_reading": per,
        "bytes_per_reading_before": round(before / n, 2) if n else 0.0,
    }


def count(conn: Conn) -> int:
    row = conn.execute(COUNT).fetchone()
    return int(row[0]) if row else 0


async def district_daily(
    conn: AsyncConn,
    district: str,
    profile: str,
    metric: str,
    start: datetime,
    end: datetime,
) -> list[tuple[datetime, float]]:
    cur = await conn.execute(
        DISTRICT_DAILY,
        {"district": district, "profile": profile, "metric": metric, "start": start, "end": end},
    )
    return [(b, float(v)) for b, v in await cur.fetchall()]


async def delete_alerts(conn: AsyncConn) -> None:
    """Every alert of the town, with its history, notes and deliveries (their
    foreign keys cascade; bench.year --fresh-alerts: the engine's next run opens
    them as after a fresh load)."""
    await conn.execute("DELETE FROM alerts")
