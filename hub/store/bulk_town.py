"""Bulk load of a simulated town for the year benchmark (bench/year.py): the devices
as the simulators place them, a series per core metric, and readings written by
SQL ``generate_series`` one profile and one time slice per statement.

The values are not random noise: they follow the shape of each metric (lamps on at
night, registers that only rise, slow temperature cycles, a battery that drains),
rounded as devices report them, so that compression sees data like the real thing.
Lives beside the migrations (as hub/store/bulk.py does) so that a schema change
that breaks it fails the store's tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from hub.store.db import Conn

# The metrics the town's devices report in every uplink (the radio's own metrics
# left out): about 220 million readings a year for 500 devices.
TOWN_METRICS: Mapping[str, tuple[str, ...]] = {
    "street_light": ("dim_level", "energy", "lamp_on", "power", "voltage"),
    "water_meter": ("battery", "flow", "temperature", "volume"),
    "air_quality": ("battery", "humidity", "no2", "o3", "pm10", "pm25", "temperature"),
}

INSERT_DEVICE = """
INSERT INTO devices (device_id, profile, name, district, lat, lon, status, last_seen)
VALUES (%(device_id)s, %(profile)s, %(name)s, %(district)s, %(lat)s, %(lon)s, 'online', now())
"""
INSERT_SERIES = """
INSERT INTO series (device, metric)
SELECT d.id, m FROM devices d, unnest(%(metrics)s::text[]) m
WHERE d.profile = %(profile)s ORDER BY d.id, m
"""
# One statement per profile and time slice [start, end). ``h`` is the hour of day
# (UTC), ``e`` hours since the epoch, ``p`` a per-device phase in [0, 1).
TOWN_READINGS = """
INSERT INTO readings (series_id, time, value)
SELECT x.id, x.t,
       CASE x.metric
           WHEN 'lamp_on' THEN CASE WHEN x.h < 6 OR x.h >= 16 THEN 1 ELSE 0 END
           WHEN 'dim_level' THEN CASE WHEN x.h < 5 THEN 50 WHEN x.h < 6 OR x.h >= 16 THEN 100
                                      ELSE 0 END
           WHEN 'power' THEN CASE WHEN x.h < 5 THEN round(((20 + 30 * x.p + random())) * 10) / 10
                                  WHEN x.h < 6 OR x.h >= 16
                                  THEN round(((40 + 60 * x.p + random())) * 10) / 10
                                  ELSE 0 END
           WHEN 'energy' THEN round(((100 + 5000 * x.p + x.e * 0.03)) * 100) / 100
           WHEN 'voltage' THEN round(((229 + 3 * random())) * 10) / 10
           WHEN 'volume' THEN round(((20 + 2000 * x.p + x.e * 0.02)) * 1000) / 1000
           WHEN 'flow' THEN CASE WHEN x.h BETWEEN 5 AND 22 THEN round(((30 * random())) * 10) / 10
                                 ELSE 0 END
           WHEN 'battery' THEN 100 - floor((x.e::bigint %% 8760) / 8760.0 * 30 + 20 * x.p)
           WHEN 'temperature' THEN round(((6 + 8 * sin(x.e / 8760 * 6.2832)
                                          + 3 * sin(x.h / 24 * 6.2832) + random())) * 10) / 10
           WHEN 'humidity' THEN round(70 + 15 * sin(x.h / 24 * 6.2832) + 5 * random())
           WHEN 'no2' THEN round(((15 + 25 * x.p + 10 * random())) * 10) / 10
           WHEN 'o3' THEN round(((40 + 20 * sin(x.h / 24 * 6.2832) + 5 * random())) * 10) / 10
           WHEN 'pm10' THEN round(((8 + 12 * x.p + 6 * random())) * 10) / 10
           ELSE round(((4 + 6 * x.p + 3 * random())) * 10) / 10
       END::float8
FROM (
    SELECT s.id, s.metric, t,
           d.id * 0.618034::float8 - floor(d.id * 0.618034::float8) AS p,
           extract(epoch FROM t)::float8 / 3600 AS e,
           (extract(epoch FROM t)::bigint %% 86400) / 3600 AS h
    FROM devices d
    JOIN series s ON s.device = d.id
    CROSS JOIN generate_series(%(start)s::timestamptz,
                               %(end)s::timestamptz - interval '1 microsecond',
                               %(step)s::interval) t
    WHERE d.profile = %(profile)s
) x
"""
SET_LAST_SEEN = """
UPDATE devices d SET last_seen = l.t
FROM (SELECT s.device, max(r.time) AS t FROM readings r JOIN series s ON s.id = r.series_id
      WHERE r.time >= %(since)s GROUP BY s.device) l
WHERE l.device = d.id
"""


# A profile's series are written together, one statement per slice: the newest
# reading of one of them is the profile's.
NEWEST = """
SELECT max(time) FROM readings WHERE series_id = (
    SELECT min(s.id) FROM series s JOIN devices d ON d.id = s.device WHERE d.profile = %(profile)s)
"""


def newest(conn: Conn, profile: str) -> datetime:
    """The time of the newest reading of ``profile``'s devices."""
    row = conn.execute(NEWEST, {"profile": profile}).fetchone()
    if row is None or row[0] is None:
        raise ValueError(f"no readings of {profile}")
    return row[0]  # type: ignore[no-any-return]


def insert_devices(conn: Conn, rows: Iterable[Mapping[str, object]]) -> None:
    """Devices as ``{device_id, profile, name, district, lat, lon}``; then a series per
    metric of each profile in :data:`TOWN_METRICS`."""
    with conn.cursor() as cur:
        cur.executemany(INSERT_DEVICE, list(rows))
    for profile, metrics in TOWN_METRICS.items():
        conn.execute(INSERT_SERIES, {"profile": profile, "metrics": list(metrics)})


def fill_slice(conn: Conn, profile: str, start: datetime, end: datetime, step: timedelta) -> int:
    """The readings of every series of ``profile`` in ``[start, end)``; rows written."""
    cur = conn.execute(
        TOWN_READINGS, {"profile": profile, "start": start, "end": end, "step": step}
    )
    return cur.rowcount


def set_last_seen(conn: Conn, since: datetime) -> None:
    conn.execute(SET_LAST_SEEN, {"since": since})


def slices(start: datetime, end: datetime, width: timedelta) -> Sequence[tuple[datetime, datetime]]:
    """``[start, end)`` cut into pieces of ``width`` (the last one shorter)."""
    out = []
    t = start
    while t < end:
        out.append((t, min(t + width, end)))
        t += width
    return out
