-- TimescaleDB: readings become a hypertable with compression, and the hourly and
-- daily rollups are continuous aggregates with the same columns as the plain path.

CREATE EXTENSION IF NOT EXISTS timescaledb;

SELECT create_hypertable('readings', 'time',
                         chunk_time_interval => interval '1 day',
                         migrate_data => true);

ALTER TABLE readings SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'series_id',
    timescaledb.compress_orderby = 'time'
);
SELECT add_compression_policy('readings', interval '7 days');

CREATE MATERIALIZED VIEW readings_1h
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT series_id,
       time_bucket('1 hour', time) AS bucket,
       count(*)             AS count,
       sum(value)           AS sum,
       min(value)           AS min,
       max(value)           AS max,
       min(time)            AS first_time,
       first(value, time)   AS first,
       max(time)            AS last_time,
       last(value, time)    AS last
FROM readings
GROUP BY series_id, bucket
WITH NO DATA;

SELECT add_continuous_aggregate_policy('readings_1h',
    start_offset => interval '3 days',
    end_offset => interval '1 hour',
    schedule_interval => interval '5 minutes');

CREATE MATERIALIZED VIEW readings_1d
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT series_id,
       time_bucket('1 day', bucket) AS bucket,
       sum(count)::bigint       AS count,
       sum(sum)                 AS sum,
       min(min)                 AS min,
       max(max)                 AS max,
       min(first_time)          AS first_time,
       first(first, first_time) AS first,
       max(last_time)           AS last_time,
       last(last, last_time)    AS last
FROM readings_1h
GROUP BY series_id, time_bucket('1 day', bucket)
WITH NO DATA;

SELECT add_continuous_aggregate_policy('readings_1d',
    start_offset => interval '7 days',
    end_offset => interval '1 day',
    schedule_interval => interval '1 hour');
