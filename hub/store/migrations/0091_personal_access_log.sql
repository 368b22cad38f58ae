-- Who read personal data (docs/privacy.md): one row per read of a personal device's
-- data by a key with the 'personal' permission (or of a query over several such
-- devices, device_id NULL). Kept HUB_PRIVACY_ACCESS_LOG_DAYS days.

CREATE TABLE personal_access_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    key_id      integer,
    key_prefix  text,
    key_name    text,
    device_id   text,
    what        text NOT NULL,
    rows        integer NOT NULL CHECK (rows >= 0)
);
CREATE INDEX personal_access_log_at_idx ON personal_access_log (at);
CREATE INDEX personal_access_log_device_idx ON personal_access_log (device_id, at);
