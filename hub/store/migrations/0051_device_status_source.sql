-- Where a device's status came from: a status message (birth or last will), the
-- hub seeing it silent past its profile's offline time, or a reading after that
-- silence. Only a status the hub set from silence is lifted by the next reading.

ALTER TABLE devices
    ADD COLUMN status_source text NOT NULL DEFAULT 'message'
        CHECK (status_source IN ('message', 'silence', 'reading'));
CREATE INDEX devices_silent_offline_idx ON devices (id)
    WHERE status = 'offline' AND status_source = 'silence';
