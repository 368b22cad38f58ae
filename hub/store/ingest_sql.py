"""SQL of the ingest path (used by :mod:`hub.store.writer`)."""

from __future__ import annotations

CREATE_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS staging (
    series_id  integer NOT NULL,
    time       timestamptz NOT NULL,
    value      double precision NOT NULL
) ON COMMIT DELETE ROWS
"""
COPY_STAGING = "COPY staging (series_id, time, value) FROM STDIN (FORMAT BINARY)"

# Fast path, when no reading of the batch is stored yet (the usual case): COPY
# straight into readings on TimescaleDB, or a plain INSERT from staging with the
# rollups on plain PostgreSQL. A redelivered reading makes it fail with a unique
# violation; the writer then takes the idempotent path below.
COPY_READINGS = "COPY readings (series_id, time, value) FROM STDIN (FORMAT BINARY)"

# Idempotent path. TimescaleDB: the continuous aggregates follow by themselves.
INSERT_READINGS = """
INSERT INTO readings (series_id, time, value)
SELECT series_id, time, value FROM staging
ON CONFLICT DO NOTHING
"""

# Plain PostgreSQL: the rollups take exactly the rows that were new (RETURNING), so a
# redelivered message adds nothing. Rows are sorted so that two writers lock rollup
# rows in the same order.
_MERGE_ROLLUP = """
INSERT INTO {table} AS r
    (series_id, bucket, count, sum, min, max, first_time, first, last_time, last)
SELECT series_id, bucket, count, sum, min, max, first_time, first, last_time, last
FROM {source} ORDER BY series_id, bucket
ON CONFLICT (series_id, bucket) DO UPDATE SET
    count = r.count + excluded.count,
    sum = r.sum + excluded.sum,
    min = least(r.min, excluded.min),
    max = greatest(r.max, excluded.max),
    first = CASE WHEN excluded.first_time < r.first_time THEN excluded.first ELSE r.first END,
    first_time = least(r.first_time, excluded.first_time),
    last = CASE WHEN excluded.last_time > r.last_time THEN excluded.last ELSE r.last END,
    last_time = greatest(r.last_time, excluded.last_time)
"""
_WITH_ROLLUPS = """
WITH new AS (
    INSERT INTO readings (series_id, time, value)
    SELECT series_id, time, value FROM staging
    {on_conflict}
    RETURNING series_id, time, value
), hourly AS (
    SELECT series_id, date_trunc('hour', time) AS bucket,
           count(*) AS count, sum(value) AS sum, min(value) AS min, max(value) AS max,
           min(time) AS first_time, (array_agg(value ORDER BY time))[1] AS first,
           max(time) AS last_time, (array_agg(value ORDER BY time DESC))[1] AS last
    FROM new GROUP BY 1, 2
), daily AS (
    SELECT series_id, date_trunc('day', bucket) AS bucket,
           sum(count)::bigint AS count, sum(sum) AS sum, min(min) AS min, max(max) AS max,
           min(first_time) AS first_time,
           (array_agg(first ORDER BY first_time))[1] AS first,
           max(last_time) AS last_time,
           (array_agg(last ORDER BY last_time DESC))[1] AS last
    FROM hourly GROUP BY 1, 2
), merge_hourly AS (
    {merge_hourly}
)
{merge_daily}
"""
INSERT_READINGS_WITH_ROLLUPS = _WITH_ROLLUPS.format(
    on_conflict="ON CONFLICT DO NOTHING",
    merge_hourly=_MERGE_ROLLUP.format(table="readings_1h", source="hourly"),
    merge_daily=_MERGE_ROLLUP.format(table="readings_1d", source="daily"),
)
INSERT_NEW_READINGS_WITH_ROLLUPS = _WITH_ROLLUPS.format(
    on_conflict="",
    merge_hourly=_MERGE_ROLLUP.format(table="readings_1h", source="hourly"),
    merge_daily=_MERGE_ROLLUP.format(table="readings_1d", source="daily"),
)

COPY_DEAD_LETTERS = (
    "COPY dead_letters (received_at, topic, payload, reason, detail, device_id, format) "
    "FROM STDIN (FORMAT BINARY)"
)
DEAD_LETTER_TYPES = ["timestamptz", "text", "bytea", "text", "text", "text", "text"]

SELECT_DEVICES = """
SELECT id, device_id, profile, decommissioned_at IS NOT NULL
FROM devices WHERE device_id = ANY(%(device_ids)s)
"""
REGISTER_DEVICES = """
INSERT INTO devices (device_id, profile)
SELECT * FROM unnest(%(device_ids)s::text[], %(profiles)s::text[])
ON CONFLICT (device_id) DO NOTHING
"""
SELECT_ALL_SERIES = "SELECT id, device, metric FROM series"
SELECT_ALL_DEVICES = "SELECT id, device_id, profile, decommissioned_at IS NOT NULL FROM devices"
REGISTER_SERIES = """
INSERT INTO series (device, metric)
SELECT * FROM unnest(%(devices)s::int[], %(metrics)s::text[])
ON CONFLICT (device, metric) DO NOTHING
"""
SELECT_SERIES = """
SELECT s.id, s.device, s.metric
FROM series s JOIN unnest(%(devices)s::int[], %(metrics)s::text[]) AS w(device, metric)
  ON s.device = w.device AND s.metric = w.metric
"""
UPDATE_STATUS = """
UPDATE devices d SET status = v.status, status_changed_at = v.at, status_source = 'message'
FROM unnest(%(ids)s::int[], %(statuses)s::text[], %(ats)s::timestamptz[]) AS v(id, status, at)
WHERE d.id = v.id AND (d.status IS DISTINCT FROM v.status OR d.status_source <> 'message')
"""
UPDATE_LAST_SEEN = """
UPDATE devices d SET last_seen = v.at
FROM unnest(%(ids)s::int[], %(ats)s::timestamptz[]) AS v(id, at)
WHERE d.id = v.id AND (d.last_seen IS NULL OR d.last_seen < v.at)
"""
