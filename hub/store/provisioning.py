"""SQL of device provisioning (hub devices provision)."""

from __future__ import annotations

from typing import Any

from hub.store.db import Conn

UPSERT_DEVICE = """
INSERT INTO devices (device_id, profile, lat, lon, district, dev_eui, external_id,
                     data_class_override)
VALUES (%(device_id)s, %(profile)s, %(lat)s, %(lon)s, %(district)s, upper(%(dev_eui)s),
        %(external_id)s, %(data_class)s)
ON CONFLICT (device_id) DO UPDATE SET
    profile = excluded.profile,
    lat = coalesce(excluded.lat, devices.lat),
    lon = coalesce(excluded.lon, devices.lon),
    district = coalesce(excluded.district, devices.district),
    dev_eui = coalesce(excluded.dev_eui, devices.dev_eui),
    external_id = coalesce(excluded.external_id, devices.external_id),
    data_class_override = coalesce(excluded.data_class_override, devices.data_class_override),
    decommissioned_at = NULL
"""


def register(conn: Conn, devices: list[dict[str, Any]]) -> None:
    """Register (or update) devices in one transaction."""
    # data_class: a device's own class (docs/privacy.md); absent follows its profile.
    rows = [{"data_class": None, **device} for device in devices]
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(UPSERT_DEVICE, rows)
