-- Plain PostgreSQL: the hourly and daily rollups leave the ingest's transaction
-- (docs/adr/0015-plain-rollups-from-a-watermark.md). As TimescaleDB's real-time
-- continuous aggregates do, they are kept in three parts, and readings_1h /
-- readings_1d become views that combine them, so a reader sees exact values at
-- any moment:
--
--   readings_1h_mat    buckets before the watermark, filled by hub_refresh_rollups()
--   readings_1h_late   partial buckets of readings that arrived below the watermark,
--                      appended by the ingest's transaction, folded in by the refresh
--   readings           everything at or after the watermark, aggregated when read
--
-- and the same for days (readings_1d_mat, readings_1d_late), whose tail is read from
-- the hourly view. Buckets are UTC hours and days, as before.

ALTER TABLE readings_1h RENAME TO readings_1h_mat;
ALTER TABLE readings_1d RENAME TO readings_1d_mat;

CREATE TABLE readings_1h_late (LIKE readings_1h_mat INCLUDING DEFAULTS);
CREATE INDEX readings_1h_late_idx ON readings_1h_late (series_id, bucket);
CREATE TABLE readings_1d_late (LIKE readings_1d_mat INCLUDING DEFAULTS);
CREATE INDEX readings_1d_late_idx ON readings_1d_late (series_id, bucket);

-- One row: every hour before it is in readings_1h_mat (plus readings_1h_late), every
-- UTC day before date_trunc('day', watermark) in readings_1d_mat (plus readings_1d_late).
CREATE TABLE rollup_watermark (
    one        boolean PRIMARY KEY DEFAULT true CHECK (one),
    watermark  timestamptz NOT NULL
);

-- The rollups the writer kept until now are exact; the watermark starts at the hour
-- of the newest reading (one backward index probe per series), and the buckets from
-- there on are handed to the real-time part.
INSERT INTO rollup_watermark (watermark)
SELECT coalesce(date_trunc('hour', max(least(l.time, now())), 'UTC'), '-infinity')
FROM series s
CROSS JOIN LATERAL (
    SELECT r.time FROM readings r WHERE r.series_id = s.id ORDER BY r.time DESC LIMIT 1
) l;
DELETE FROM readings_1h_mat WHERE bucket >= (SELECT watermark FROM rollup_watermark);
DELETE FROM readings_1d_mat
WHERE bucket >= date_trunc('day', (SELECT watermark FROM rollup_watermark), 'UTC');

-- The same view for hours and days: materialized buckets without a late part, then
-- those with one merged with it, then the tail after the watermark (for hours from
-- the raw readings, for days from the hourly view), read series by series through
-- the primary keys, so that a reader that joins the view instead of naming series
-- does not scan all readings.
DO $$
DECLARE
    units text[] := ARRAY['1h', '1d'];
    tails text[] := ARRAY[$tail$
    SELECT date_trunc('hour', r.time, 'UTC') AS bucket, count(*) AS count,
           sum(r.value) AS sum, min(r.value) AS min, max(r.value) AS max,
           min(r.time) AS first_time, (array_agg(r.value ORDER BY r.time))[1] AS first,
           max(r.time) AS last_time, (array_agg(r.value ORDER BY r.time DESC))[1] AS last
    FROM readings r
    WHERE r.series_id = s.id AND r.time >= (SELECT watermark FROM rollup_watermark)
    GROUP BY 1
$tail$, $tail$
    SELECT date_trunc('day', h.bucket, 'UTC') AS bucket, sum(h.count)::bigint AS count,
           sum(h.sum) AS sum, min(h.min) AS min, max(h.max) AS max,
           min(h.first_time) AS first_time, (array_agg(h.first ORDER BY h.first_time))[1] AS first,
           max(h.last_time) AS last_time, (array_agg(h.last ORDER BY h.last_time DESC))[1] AS last
    FROM readings_1h h
    WHERE h.series_id = s.id
      AND h.bucket >= date_trunc('day', (SELECT watermark FROM rollup_watermark), 'UTC')
    GROUP BY 1
$tail$];
BEGIN
    FOR i IN 1 .. 2 LOOP
        EXECUTE format($view$
CREATE VIEW readings_%1$s AS
SELECT m.series_id, m.bucket, m.count, m.sum, m.min, m.max,
       m.first_time, m.first, m.last_time, m.last
FROM readings_%1$s_mat m
WHERE NOT EXISTS (
    SELECT 1 FROM readings_%1$s_late l WHERE l.series_id = m.series_id AND l.bucket = m.bucket)
UNION ALL
SELECT p.series_id, p.bucket, sum(p.count)::bigint, sum(p.sum), min(p.min), max(p.max),
       min(p.first_time), (array_agg(p.first ORDER BY p.first_time))[1],
       max(p.last_time), (array_agg(p.last ORDER BY p.last_time DESC))[1]
FROM (
    SELECT * FROM readings_%1$s_mat m
    WHERE EXISTS (
        SELECT 1 FROM readings_%1$s_late l WHERE l.series_id = m.series_id AND l.bucket = m.bucket)
    UNION ALL
    SELECT * FROM readings_%1$s_late
) p
GROUP BY p.series_id, p.bucket
UNION ALL
SELECT s.id, t.bucket, t.count, t.sum, t.min, t.max, t.first_time, t.first, t.last_time, t.last
FROM series s CROSS JOIN LATERAL (%2$s) t
$view$, units[i], tails[i]);
    END LOOP;
END
$$;

-- The incremental refresh (a hub job calls it): fold the late parts in, materialize
-- the whole hours from the watermark up to the hour of the newest reading but no later
-- than now() - lag, then the whole days below the new watermark, and move it; all in
-- one transaction, so a crash at any point leaves the previous state. The exclusive
-- advisory lock waits for the ingest transactions in flight (each holds it shared
-- while it reads the watermark and writes): a reading committed after the watermark
-- moved was written against the new one. Returns the watermark in force.
CREATE FUNCTION hub_refresh_rollups(lag interval) RETURNS timestamptz
LANGUAGE plpgsql AS $$
DECLARE
    old_mark timestamptz;
    new_mark timestamptz;
    newest   timestamptz;
    unit     text;
BEGIN
    PERFORM pg_advisory_xact_lock(7526752636493932);  -- 'hub_rollups', see ingest_sql.py
    SELECT watermark INTO old_mark FROM rollup_watermark FOR UPDATE;

    FOREACH unit IN ARRAY ARRAY['1h', '1d'] LOOP
        EXECUTE format($fold$
            WITH gone AS (DELETE FROM readings_%1$s_late RETURNING *)
            INSERT INTO readings_%1$s_mat AS r
                (series_id, bucket, count, sum, min, max, first_time, first, last_time, last)
            SELECT series_id, bucket, sum(count), sum(sum), min(min), max(max),
                   min(first_time), (array_agg(first ORDER BY first_time))[1],
                   max(last_time), (array_agg(last ORDER BY last_time DESC))[1]
            FROM gone GROUP BY series_id, bucket ORDER BY series_id, bucket
            ON CONFLICT (series_id, bucket) DO UPDATE SET
                count = r.count + excluded.count,
                sum = r.sum + excluded.sum,
                min = least(r.min, excluded.min),
                max = greatest(r.max, excluded.max),
                first = CASE WHEN excluded.first_time < r.first_time
                             THEN excluded.first ELSE r.first END,
                first_time = least(r.first_time, excluded.first_time),
                last = CASE WHEN excluded.last_time > r.last_time
                            THEN excluded.last ELSE r.last END,
                last_time = greatest(r.last_time, excluded.last_time)
        $fold$, unit);
    END LOOP;

    SELECT max(l.time) INTO newest
    FROM series s
    CROSS JOIN LATERAL (
        SELECT r.time FROM readings r
        WHERE r.series_id = s.id AND r.time >= old_mark
        ORDER BY r.time DESC LIMIT 1
    ) l;
    IF newest IS NULL THEN  -- nothing new: the watermark waits for data (an outage's
        RETURN old_mark;    -- backlog then arrives above it)
    END IF;
    new_mark := least(date_trunc('hour', now() - lag, 'UTC'), date_trunc('hour', newest, 'UTC'));
    IF new_mark <= old_mark THEN
        RETURN old_mark;
    END IF;

    INSERT INTO readings_1h_mat
        (series_id, bucket, count, sum, min, max, first_time, first, last_time, last)
    SELECT s.id, t.*
    FROM series s
    CROSS JOIN LATERAL (
        SELECT date_trunc('hour', r.time, 'UTC'), count(*), sum(r.value), min(r.value),
               max(r.value), min(r.time), (array_agg(r.value ORDER BY r.time))[1],
               max(r.time), (array_agg(r.value ORDER BY r.time DESC))[1]
        FROM readings r
        WHERE r.series_id = s.id AND r.time >= old_mark AND r.time < new_mark
        GROUP BY 1
    ) t;

    INSERT INTO readings_1d_mat
        (series_id, bucket, count, sum, min, max, first_time, first, last_time, last)
    SELECT s.id, t.*
    FROM series s
    CROSS JOIN LATERAL (
        SELECT date_trunc('day', h.bucket, 'UTC'), sum(h.count), sum(h.sum), min(h.min),
               max(h.max), min(h.first_time), (array_agg(h.first ORDER BY h.first_time))[1],
               max(h.last_time), (array_agg(h.last ORDER BY h.last_time DESC))[1]
        FROM readings_1h_mat h
        WHERE h.series_id = s.id
          AND h.bucket >= date_trunc('day', old_mark, 'UTC')
          AND h.bucket < date_trunc('day', new_mark, 'UTC')
        GROUP BY 1
    ) t;

    UPDATE rollup_watermark SET watermark = new_mark;
    RETURN new_mark;
END
$$;
