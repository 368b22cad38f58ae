-- Notifications of alert transitions (an outbox): every alert_events row is turned
-- into one delivery per configured notifier, kept until delivered or dead, so a
-- restart or a notifier outage loses nothing and failures stay visible.

CREATE TABLE alert_notifiers (
    notifier       text PRIMARY KEY,          -- 'webhook <url>' or 'mqtt'
    last_event_id  bigint NOT NULL            -- alert_events up to here are queued
);

CREATE TABLE alert_deliveries (
    id               bigserial PRIMARY KEY,
    notifier         text NOT NULL,
    event_id         bigint NOT NULL REFERENCES alert_events (id) ON DELETE CASCADE,
    alert_id         bigint NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    payload          jsonb NOT NULL,
    state            text NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts         integer NOT NULL DEFAULT 0,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    UNIQUE (notifier, event_id)
);
CREATE INDEX alert_deliveries_due_idx ON alert_deliveries (notifier, next_attempt_at)
    WHERE state = 'pending';
CREATE INDEX alert_deliveries_dead_idx ON alert_deliveries (created_at DESC)
    WHERE state = 'dead';
