-- Plain PostgreSQL: hourly and daily rollups kept by the writer in the same
-- transaction as the readings (only rows that were really inserted are added, so
-- redelivery does not count twice). Retention is a hub job.

CREATE TABLE readings_1h (
    series_id   integer NOT NULL,
    bucket      timestamptz NOT NULL,
    count       bigint NOT NULL,
    sum         double precision NOT NULL,
    min         double precision NOT NULL,
    max         double precision NOT NULL,
    first_time  timestamptz NOT NULL,
    first       double precision NOT NULL,
    last_time   timestamptz NOT NULL,
    last        double precision NOT NULL,
    PRIMARY KEY (series_id, bucket)
);

CREATE TABLE readings_1d (LIKE readings_1h INCLUDING ALL);
