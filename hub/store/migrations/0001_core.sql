-- Devices, their time series, the readings, and the dead letters.
-- Readings are narrow rows keyed by a small integer series id (one per device and
-- metric): see docs/adr/0003-narrow-readings-with-series-ids.md.

CREATE TABLE devices (
    id                 serial PRIMARY KEY,
    device_id          text NOT NULL UNIQUE,
    profile            text NOT NULL,
    name               text,
    district           text,
    lat                double precision,
    lon                double precision,
    status             text NOT NULL DEFAULT 'unknown'
                       CHECK (status IN ('unknown', 'online', 'offline')),
    status_changed_at  timestamptz,
    registered_at      timestamptz NOT NULL DEFAULT now(),
    last_seen          timestamptz,
    decommissioned_at  timestamptz
);
CREATE INDEX devices_profile_idx ON devices (profile);

CREATE TABLE series (
    id      serial PRIMARY KEY,
    device  integer NOT NULL REFERENCES devices (id),
    metric  text NOT NULL,
    UNIQUE (device, metric)
);

CREATE TABLE readings (
    series_id  integer NOT NULL,
    time       timestamptz NOT NULL,
    value      double precision NOT NULL,
    PRIMARY KEY (series_id, time)
);

CREATE TABLE dead_letters (
    id           bigserial PRIMARY KEY,
    received_at  timestamptz NOT NULL,
    topic        text NOT NULL,
    payload      bytea NOT NULL,
    reason       text NOT NULL,
    detail       text NOT NULL,
    device_id    text
);
CREATE INDEX dead_letters_received_idx ON dead_letters (received_at);
CREATE INDEX dead_letters_reason_idx ON dead_letters (reason, received_at);
