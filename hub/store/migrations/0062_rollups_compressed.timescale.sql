-- TimescaleDB: the hourly and daily continuous aggregates compressed too, by series
-- and in bucket order, once they are past their refresh windows (3 and 7 days).
-- On a year of a town (bench.year) the aggregates held more bytes per reading
-- than the compressed readings themselves (16 against 6), and a device's hourly
-- means over a year read 8,760 rows per series out of 37 heap chunks
-- (docs/performance.md, "A year of a town").

ALTER MATERIALIZED VIEW readings_1h SET (
    timescaledb.compress = true,
    timescaledb.compress_segmentby = 'series_id',
    timescaledb.compress_orderby = 'bucket'
);
SELECT add_compression_policy('readings_1h', compress_after => interval '7 days', if_not_exists => true);

ALTER MATERIALIZED VIEW readings_1d SET (
    timescaledb.compress = true,
    timescaledb.compress_segmentby = 'series_id',
    timescaledb.compress_orderby = 'bucket'
);
SELECT add_compression_policy('readings_1d', compress_after => interval '14 days', if_not_exists => true);
