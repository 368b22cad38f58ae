-- The NGSI-LD temporal push's cursor (docs/ngsi-ld.md, HUB_NGSI_LD_TEMPORAL_ATTRS):
-- per broker and device, the time of the newest reading whose instances the
-- broker's temporal API accepted. The next round sends the readings after it.
CREATE TABLE ngsi_push_temporal (
    target     text NOT NULL,                  -- which broker (as in ngsi_push_state)
    device     integer NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    until      timestamptz NOT NULL,
    pushed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (target, device)
);
