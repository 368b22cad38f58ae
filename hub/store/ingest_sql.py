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
# straight into readings. A redelivered reading makes it fail with a unique
# violation; the writer then takes the idempotent path below.
COPY_READINGS = "COPY readings (series_id, time, value) FROM STDIN (FORMAT BINARY)"

# Idempotent path. TimescaleDB: the continuous aggregates follow by themselves; plain
# PostgreSQL: so do the rollups, for readings at or after their watermark.
INSERT_READINGS = """
INSERT INTO readings (series_id, time, value)
SELECT series_id, time, value FROM staging
ON CONFLICT DO NOTHING
"""

# Plain PostgreSQL (migration 0065, docs/adr/0015-plain-rollups-from-a-watermark.md):
# the rollups below the watermark are materialized; a reading that arrives below it
# adds its part to readings_1h_late / readings_1d_late in the ingest's transaction,
# and the refresh folds those in. The advisory lock, taken shared here until the
# commit, is the one hub_refresh_rollups() takes exclusively to move the watermark,
# so a batch is written against the watermark that is in force when it commits.
ROLLUP_LOCK = 7526752636493932  # 'hub_rollups'
BELOW_WATERMARK = """
SELECT pg_advisory_xact_lock_shared(7526752636493932), %(first)s::timestamptz < watermark
FROM rollup_watermark
"""
# Only the rows that were new (RETURNING) add to the late parts, so a redelivered
# message adds nothing.
INSERT_READINGS_BELOW_WATERMARK = """
WITH new AS (
    INSERT INTO readings (series_id, time, value)
    SELECT series_id, time, value FROM staging
    ON CONFLICT DO NOTHING
    RETURNING series_id, time, value
), hourly AS (
    SELECT series_id, date_trunc('hour', time, 'UTC') AS bucket,
           count(*) AS count, sum(value) AS sum, min(value) AS min, max(value) AS max,
           min(time) AS first_time, (array_agg(value ORDER BY time))[1] AS first,
           max(time) AS last_time, (array_agg(value ORDER BY time DESC))[1] AS last
    FROM new WHERE time < (SELECT watermark FROM rollup_watermark)
    GROUP BY 1, 2
), late_hours AS (
    INSERT INTO readings_1h_late
        (series_id, bucket, count, sum, min, max, first_time, first, last_time, last)
    SELECT * FROM hourly
)
INSERT INTO readings_1d_late
    (series_id, bucket, count, sum, min, max, first_time, first, last_time, last)
SELECT series_id, date_trunc('day', bucket, 'UTC'),
       sum(count), sum(sum), min(min), max(max),
       min(first_time), (array_agg(first ORDER BY first_time))[1],
       max(last_time), (array_agg(last ORDER BY last_time DESC))[1]
FROM hourly
WHERE bucket < date_trunc('day', (SELECT watermark FROM rollup_watermark), 'UTC')
GROUP BY 1, 2
"""

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
