-- Data classes (docs/privacy.md): public, internal or personal, per profile and,
-- overridden, per device. devices.data_class is the EFFECTIVE class, so every read
-- query can filter on it; a trigger keeps it equal to the override when there is
-- one, else to the profile's class as the hub last loaded it (profile_data_classes,
-- filled at start-up from the profile files), else 'internal' (never public by
-- omission).

CREATE TABLE profile_data_classes (
    profile     text PRIMARY KEY,
    data_class  text NOT NULL CHECK (data_class IN ('public', 'internal', 'personal')),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE devices
    ADD COLUMN data_class text NOT NULL DEFAULT 'internal'
        CHECK (data_class IN ('public', 'internal', 'personal')),
    ADD COLUMN data_class_override text
        CHECK (data_class_override IN ('public', 'internal', 'personal'));
CREATE INDEX devices_data_class_idx ON devices (data_class);

CREATE FUNCTION devices_effective_data_class() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.data_class := coalesce(
        NEW.data_class_override,
        (SELECT p.data_class FROM profile_data_classes p WHERE p.profile = NEW.profile),
        'internal');
    RETURN NEW;
END
$$;

CREATE TRIGGER devices_effective_data_class
    BEFORE INSERT OR UPDATE OF profile, data_class, data_class_override ON devices
    FOR EACH ROW EXECUTE FUNCTION devices_effective_data_class();
