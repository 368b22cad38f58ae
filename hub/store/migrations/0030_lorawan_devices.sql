-- Devices on LoRaWAN network servers and other sources (docs/integrations.md).
--
-- A device may carry its LoRaWAN DevEUI (16 upper-case hex digits) and the id a
-- network server gives it (The Things Stack's end-device id); uplinks find their
-- device by these. last_f_cnt is the highest uplink frame counter stored, from
-- which gaps (missed frames) are counted.

ALTER TABLE devices
    ADD COLUMN dev_eui text CHECK (dev_eui ~ '^[0-9A-F]{16}$'),
    ADD COLUMN external_id text CHECK (length(external_id) BETWEEN 1 AND 128),
    ADD COLUMN last_f_cnt bigint;
CREATE UNIQUE INDEX devices_dev_eui_key ON devices (dev_eui);
CREATE UNIQUE INDEX devices_external_id_key ON devices (external_id);

-- Fields of a network server's decoded payload that the profile does not map, per
-- device: ignored, but counted so an operator can see what a mapping misses.
CREATE TABLE device_unmapped_fields (
    device     integer NOT NULL REFERENCES devices (id),
    field      text NOT NULL,
    count      bigint NOT NULL,
    last_seen  timestamptz NOT NULL,
    PRIMARY KEY (device, field)
);

-- Dead letters keep the format they arrived in, so a replay decodes them the same
-- way with today's profiles; a replayed letter is marked, not deleted.
ALTER TABLE dead_letters
    ADD COLUMN format text NOT NULL DEFAULT 'hub',
    ADD COLUMN replayed_at timestamptz;
CREATE INDEX dead_letters_unreplayed_idx ON dead_letters (received_at)
    WHERE replayed_at IS NULL;

-- Keys that may only send data (webhooks of network servers, gateways).
ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check
    CHECK (role IN ('viewer', 'operator', 'admin', 'ingest'));
