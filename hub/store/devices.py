"""Devices: listing with filters, detail, registration and changes by operators.

The ingest registers devices by itself (``hub.store.ingest_sql``); this module is
what the API reads and what operators change. A decommissioned device keeps its
row and data; the ingest refuses its messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row

from hub.model import Device
from hub.privacy import policy
from hub.privacy.policy import UNRESTRICTED, Visibility
from hub.store.db import AsyncConn

# The columns as the reader may see them (hub.privacy.policy: a personal device's
# place is coarse and its name hidden unless the reader may read its own data).
_COLUMNS = f"""id, device_id, profile, {policy.name_sql()} AS name, district,
    {policy.lat_sql()} AS lat, {policy.lon_sql()} AS lon, status, status_changed_at,
    registered_at, last_seen, decommissioned_at, dev_eui, external_id, data_class,
    data_class_override"""
_LAT, _LON = policy.lat_sql(), policy.lon_sql()

# Filters are optional: a NULL parameter switches its condition off. The page is keyed
# by device_id, so a cursor is the last device_id seen. (Also used by
# hub.store.readings for the latest values of a page of devices.) Only devices the
# reader may see (hub.privacy.policy), filtered by the place and name it may see.
WHERE = f"""
{policy.listed_sql()}
  AND (%(profiles)s::text[] IS NULL OR profile = ANY(%(profiles)s))
  AND (%(statuses)s::text[] IS NULL OR status = ANY(%(statuses)s))
  AND (%(districts)s::text[] IS NULL OR district = ANY(%(districts)s))
  AND (%(min_lon)s::float8 IS NULL
       OR ({_LON} BETWEEN %(min_lon)s AND %(max_lon)s
           AND {_LAT} BETWEEN %(min_lat)s AND %(max_lat)s))
  AND (%(text)s::text IS NULL
       OR strpos(lower(concat_ws(' ', device_id, {policy.name_sql()}, district)),
                 lower(%(text)s)) > 0)
  AND (%(device_ids)s::text[] IS NULL OR device_id = ANY(%(device_ids)s))
  AND (%(decommissioned)s OR decommissioned_at IS NULL)
  AND (%(after)s::text IS NULL OR device_id > %(after)s)
"""
LIST = f"""
SELECT {_COLUMNS} FROM devices
WHERE {WHERE}
ORDER BY device_id
LIMIT %(limit)s
"""
GET = f"SELECT {_COLUMNS} FROM devices WHERE device_id = %(device_id)s AND {policy.listed_sql()}"
INSERT = f"""
INSERT INTO devices (device_id, profile, name, district, lat, lon, dev_eui, external_id,
                     data_class_override)
VALUES (%(device_id)s, %(profile)s, %(name)s, %(district)s, %(lat)s, %(lon)s,
        %(dev_eui)s, %(external_id)s, %(data_class_override)s)
ON CONFLICT (device_id) DO NOTHING
RETURNING {_COLUMNS}
"""
# Each field changes only when its set_ flag is true, so a PATCH can also clear a field.
UPDATE = f"""
UPDATE devices SET
    profile = CASE WHEN %(set_profile)s THEN %(profile)s ELSE profile END,
    name = CASE WHEN %(set_name)s THEN %(name)s ELSE name END,
    district = CASE WHEN %(set_district)s THEN %(district)s ELSE district END,
    lat = CASE WHEN %(set_lat)s THEN %(lat)s ELSE lat END,
    lon = CASE WHEN %(set_lon)s THEN %(lon)s ELSE lon END,
    dev_eui = CASE WHEN %(set_dev_eui)s THEN %(dev_eui)s ELSE dev_eui END,
    external_id = CASE WHEN %(set_external_id)s THEN %(external_id)s ELSE external_id END,
    data_class_override = CASE WHEN %(set_data_class_override)s THEN %(data_class_override)s
                               ELSE data_class_override END
WHERE device_id = %(device_id)s
RETURNING {_COLUMNS}
"""
UNMAPPED_FIELDS = """
SELECT field, count, last_seen FROM device_unmapped_fields
WHERE device = %(device)s ORDER BY count DESC, field LIMIT 200
"""
OF_CLASS = """
SELECT device_id FROM devices WHERE device_id = ANY(%(ids)s) AND data_class = %(data_class)s
ORDER BY device_id
"""
DECOMMISSION = f"""
UPDATE devices SET decommissioned_at = coalesce(decommissioned_at, now())
WHERE device_id = %(device_id)s
RETURNING {_COLUMNS}
"""


@dataclass(frozen=True, slots=True)
class DeviceFilter:
    """Which devices to list; every field narrows the list, None means any."""

    profiles: list[str] | None = None
    statuses: list[str] | None = None
    districts: list[str] | None = None
    bbox: tuple[float, float, float, float] | None = None  # min lon, min lat, max lon, max lat
    text: str | None = None
    device_ids: list[str] | None = None
    include_decommissioned: bool = False
    # Who reads (hub.privacy.policy): which devices it sees, and how.
    visibility: Visibility = UNRESTRICTED

    def params(self) -> dict[str, Any]:
        min_lon, min_lat, max_lon, max_lat = self.bbox or (None, None, None, None)
        return {
            "profiles": self.profiles,
            "statuses": self.statuses,
            "districts": self.districts,
            "min_lon": min_lon,
            "min_lat": min_lat,
            "max_lon": max_lon,
            "max_lat": max_lat,
            "text": self.text,
            "device_ids": self.device_ids,
            "decommissioned": self.include_decommissioned,
            **self.visibility.params(),
        }


class IdentityTaken(Exception):
    """Another device already carries this ``dev_eui`` or ``external_id``."""

    def __init__(self, field: str) -> None:
        super().__init__(f"{field} is taken by another device")
        self.field = field


def _taken(exc: psycopg.errors.UniqueViolation) -> IdentityTaken | None:
    constraint = exc.diag.constraint_name or ""
    for field in ("dev_eui", "external_id"):
        if field in constraint:
            return IdentityTaken(field)
    return None


async def list_devices(
    conn: AsyncConn, where: DeviceFilter, *, limit: int, after: str | None = None
) -> list[Device]:
    """Up to ``limit`` devices matching ``where``, by device_id, after ``after``."""
    async with conn.cursor(row_factory=class_row(Device)) as cur:
        await cur.execute(LIST, {**where.params(), "limit": limit, "after": after})
        return await cur.fetchall()


async def get_device(
    conn: AsyncConn, device_id: str, vis: Visibility = UNRESTRICTED
) -> Device | None:
    """The device if the reader may see it (as it may see it)."""
    async with conn.cursor(row_factory=class_row(Device)) as cur:
        await cur.execute(GET, {"device_id": device_id, **vis.params()})
        return await cur.fetchone()


async def create_device(
    conn: AsyncConn,
    *,
    device_id: str,
    profile: str,
    name: str | None = None,
    district: str | None = None,
    lat: float | None = None,
    lon: float | None = None,
    dev_eui: str | None = None,
    external_id: str | None = None,
    data_class_override: str | None = None,
    vis: Visibility = UNRESTRICTED,
) -> Device | None:
    """Register a device; None when the device_id is taken.

    Raises :class:`IdentityTaken` when another device has the dev_eui or external_id."""
    async with conn.cursor(row_factory=class_row(Device)) as cur:
        try:
            await cur.execute(
                INSERT,
                {
                    "device_id": device_id,
                    "profile": profile,
                    "name": name,
                    "district": district,
                    "lat": lat,
                    "lon": lon,
                    "dev_eui": dev_eui,
                    "external_id": external_id,
                    "data_class_override": data_class_override,
                    **vis.params(),
                },
            )
        except psycopg.errors.UniqueViolation as exc:
            raise _taken(exc) or exc from None
        return await cur.fetchone()


UPDATABLE = (
    "profile",
    "name",
    "district",
    "lat",
    "lon",
    "dev_eui",
    "external_id",
    "data_class_override",
)


async def update_device(
    conn: AsyncConn, device_id: str, changes: dict[str, Any], vis: Visibility = UNRESTRICTED
) -> Device | None:
    """Apply ``changes`` (a subset of :data:`UPDATABLE`); None when there is no such device."""
    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    params: dict[str, Any] = {"device_id": device_id, **vis.params()}
    for name in UPDATABLE:
        params[f"set_{name}"] = name in changes
        params[name] = changes.get(name)
    async with conn.cursor(row_factory=class_row(Device)) as cur:
        try:
            await cur.execute(UPDATE, params)
        except psycopg.errors.UniqueViolation as exc:
            raise _taken(exc) or exc from None
        return await cur.fetchone()


async def decommission(
    conn: AsyncConn, device_id: str, vis: Visibility = UNRESTRICTED
) -> Device | None:
    """Mark a device decommissioned (kept with its data); None when there is no such device."""
    async with conn.cursor(row_factory=class_row(Device)) as cur:
        await cur.execute(DECOMMISSION, {"device_id": device_id, **vis.params()})
        return await cur.fetchone()


@dataclass(frozen=True, slots=True)
class UnmappedField:
    field: str
    count: int
    last_seen: datetime


async def unmapped_fields(conn: AsyncConn, device_pk: int) -> list[UnmappedField]:
    """Decoded-payload fields of the device that its profile does not map, most seen first."""
    async with conn.cursor(row_factory=class_row(UnmappedField)) as cur:
        await cur.execute(UNMAPPED_FIELDS, {"device": device_pk})
        return await cur.fetchall()


async def of_class(conn: AsyncConn, device_ids: list[str], data_class: str) -> list[str]:
    """Which of the devices are of ``data_class`` (for the access log)."""
    if not device_ids:
        return []
    cur = await conn.execute(OF_CLASS, {"ids": device_ids, "data_class": data_class})
    return [row[0] for row in await cur.fetchall()]
