-- NGSI-LD: what was pushed to the context broker, and the subscriptions made on
-- the hub with their outbox of notifications (docs/ngsi-ld.md).

-- The push's cursor, per broker and device: a fingerprint of the entities last
-- accepted by the broker. A device whose entities differ from it is sent again,
-- so a restart or an outage of the broker sends what changed meanwhile, once.
CREATE TABLE ngsi_push_state (
    target     text NOT NULL,                  -- which broker (a hash of its URL and tenant)
    device     integer NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    version    text NOT NULL,
    pushed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (target, device)
);

CREATE TABLE ngsi_subscriptions (
    id                 text PRIMARY KEY,       -- a URI, e.g. urn:ngsi-ld:Subscription:...
    body               jsonb NOT NULL,         -- the subscription as the client gave it
    created_at         timestamptz NOT NULL DEFAULT now(),
    modified_at        timestamptz NOT NULL DEFAULT now(),
    last_notification  timestamptz,
    last_success       timestamptz,
    last_failure       timestamptz,
    times_sent         bigint NOT NULL DEFAULT 0
);

CREATE TABLE ngsi_notifications (
    id               bigserial PRIMARY KEY,
    subscription     text NOT NULL REFERENCES ngsi_subscriptions (id) ON DELETE CASCADE,
    payload          jsonb NOT NULL,
    state            text NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts         integer NOT NULL DEFAULT 0,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz
);
CREATE INDEX ngsi_notifications_due_idx ON ngsi_notifications (next_attempt_at)
    WHERE state = 'pending';
