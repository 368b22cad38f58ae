-- Data subject requests and retention of personal data (docs/privacy.md).
--
-- privacy_erasures: that an erasure happened, never what was erased: when, by whom,
-- how many rows of each kind, and a SHA-256 of the device id (so "was wm-0042 erased?"
-- can be answered by hashing the id, while the id itself is no longer stored).
--
-- personal_rollup_hold: hourly rollups of personal series held while the retention
-- job (or an erasure) deletes raw readings under them on TimescaleDB, where a refresh
-- of the continuous aggregate over those hours would otherwise erase them. Rows live
-- here only between the delete and the restore; a crash in between is repaired at
-- the job's next run. Unused (always empty) on plain PostgreSQL.

CREATE TABLE privacy_erasures (
    id           bigserial PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    device_hash  text NOT NULL,
    profile      text NOT NULL,
    data_class   text NOT NULL,
    requested_by text NOT NULL,
    counts       jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX privacy_erasures_hash_idx ON privacy_erasures (device_hash);

CREATE TABLE personal_rollup_hold (
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
