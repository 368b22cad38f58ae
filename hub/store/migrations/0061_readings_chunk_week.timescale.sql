-- TimescaleDB: readings in chunks of 7 days instead of 1 day (new chunks only;
-- chunks already made keep their range). On a year of a town (bench.year, 365
-- days) one-day chunks made every query that spans the year plan and open 365
-- chunks (and as many compressed ones): the fleet's latest values took 156 ms,
-- the alert engine's scheduled run 11.9 s for 10 devices; with 7-day chunks 17 ms
-- and 2.9 s, and a compressed reading 4.5 bytes instead of 9.3 (a series' batch
-- holds 1,000 readings, not a day's 288). The compression policy (7 days) then
-- leaves the newest one or two chunks uncompressed (docs/performance.md, "A year
-- of a town").

SELECT set_chunk_time_interval('readings', interval '7 days');
