-- TimescaleDB: drop the index on readings (time DESC) that create_hypertable adds
-- by default. Every query of the hub reads by series (the (series_id, time) primary
-- key), chunks are chosen by their time range, and the continuous aggregates'
-- refresh scans whole chunks; the second index only doubled the bytes of every
-- uncompressed reading and the ingest's index work (docs/performance.md, "A year of
-- a town"). Compressed chunks never had it.

DROP INDEX IF EXISTS readings_time_idx;
