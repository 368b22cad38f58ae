-- The latest hourly air-quality class per monitor (Norwegian classes: low,
-- moderate, high, very_high), written by the alert engine's schedule.

CREATE TABLE air_quality_classes (
    device      integer PRIMARY KEY REFERENCES devices (id),
    hour        timestamptz NOT NULL,     -- start of the clock hour classified
    class       text NOT NULL CHECK (class IN ('low', 'moderate', 'high', 'very_high')),
    pollutants  jsonb NOT NULL,           -- pollutant -> its class
    means       jsonb NOT NULL,           -- pollutant -> hourly mean, ug/m3
    updated_at  timestamptz NOT NULL DEFAULT now()
);
