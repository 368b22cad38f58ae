-- Alert rules, alerts and their history.
-- A rule targets a profile, optionally narrowed to one device or one district.
-- One open (or acknowledged) alert per rule and device, enforced by a partial
-- unique index; every transition is kept in alert_events.

CREATE TABLE rules (
    id          serial PRIMARY KEY,
    name        text NOT NULL,
    kind        text NOT NULL
                CHECK (kind IN ('threshold', 'rate_of_change', 'stale', 'window', 'domain')),
    profile     text NOT NULL,
    device_id   text,
    district    text,
    metric      text,
    parameters  jsonb NOT NULL DEFAULT '{}'::jsonb,
    severity    text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    description text,
    enabled     boolean NOT NULL DEFAULT true,
    source      text NOT NULL DEFAULT 'api' CHECK (source IN ('profile', 'api')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (device_id IS NULL OR district IS NULL)
);
-- Profile default rules are loaded idempotently by (profile, name).
CREATE UNIQUE INDEX rules_profile_default_idx ON rules (profile, name) WHERE source = 'profile';

CREATE TABLE alerts (
    id               bigserial PRIMARY KEY,
    rule_id          integer NOT NULL REFERENCES rules (id) ON DELETE CASCADE,
    device           integer NOT NULL REFERENCES devices (id),
    state            text NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),
    severity         text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    message          text NOT NULL,
    value            double precision,
    details          jsonb NOT NULL DEFAULT '{}'::jsonb,
    opened_at        timestamptz NOT NULL,
    acknowledged_at  timestamptz,
    acknowledged_by  text,
    resolved_at      timestamptz,
    resolved_by      text
);
CREATE UNIQUE INDEX alerts_one_open_idx ON alerts (rule_id, device) WHERE state <> 'resolved';
CREATE INDEX alerts_state_idx ON alerts (state, opened_at DESC);
CREATE INDEX alerts_device_idx ON alerts (device, opened_at DESC);

CREATE TABLE alert_events (
    id        bigserial PRIMARY KEY,
    alert_id  bigint NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    at        timestamptz NOT NULL,
    state     text NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),
    actor     text NOT NULL,
    note      text
);
CREATE INDEX alert_events_alert_idx ON alert_events (alert_id, at);
