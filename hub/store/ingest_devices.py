"""The writer's view of devices and series: database ids by device id and by
(device, metric), loaded on first use, refreshed every :data:`DEVICE_CACHE_TTL_S`,
and unknown devices registered (with their LoRaWAN identities when an uplink
brings them) when auto-registration is on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.model import DeadLetter, Item
from hub.store import ingest_sql as q
from hub.store import uplinks
from hub.store.db import AsyncConn

log = logging.getLogger(__name__)


LAST_SEEN_RESOLUTION = timedelta(seconds=30)
# Devices changed through the API (decommissioned, profile changed) are seen by
# the ingest at the latest this long after the change.
DEVICE_CACHE_TTL_S = 30.0
# (device id, profile, DevEUI, external id) of a device registered from an uplink.
Registered = tuple[str, str, str | None, str | None]


@dataclass(frozen=True, slots=True)
class KnownDevice:
    pk: int
    profile: str
    decommissioned: bool


class DeviceCache:
    """Device and series ids of one writer, and the ``last_seen`` it wrote."""

    def __init__(self, *, auto_register: bool) -> None:
        self._auto_register = auto_register
        self._devices: dict[str, KnownDevice] = {}
        self._devices_since = time.monotonic()
        self._series: dict[tuple[int, str], int] = {}
        self._last_seen: dict[int, datetime] = {}

    async def devices(
        self, conn: AsyncConn, items: Sequence[Item]
    ) -> tuple[dict[str, KnownDevice], list[Registered]]:
        """The devices of ``items`` that exist (after registering the unknown ones,
        if allowed), and those registered from an uplink's identities."""
        if time.monotonic() - self._devices_since > DEVICE_CACHE_TTL_S:
            self._devices.clear()
            self._devices_since = time.monotonic()
        wanted = {item.device_id: item.profile for item in items}
        missing = [d for d in wanted if d not in self._devices]
        registered: list[Registered] = []
        if missing:
            await self._load(conn, missing)
            unknown = [d for d in missing if d not in self._devices]
            if unknown and self._auto_register:
                registered = await self._register(conn, items, wanted, unknown)
        return {d: self._devices[d] for d in wanted if d in self._devices}, registered

    async def _register(
        self, conn: AsyncConn, items: Sequence[Item], wanted: dict[str, str], unknown: list[str]
    ) -> list[Registered]:
        identities = {
            item.device_id: item.lorawan
            for item in items
            if item.lorawan is not None and item.lorawan.register
        }
        plain = [d for d in unknown if d not in identities]
        if plain:
            await conn.execute(
                q.REGISTER_DEVICES,
                {"device_ids": plain, "profiles": [wanted[d] for d in plain]},
            )
        lorawan = [d for d in unknown if d in identities]
        registered = [
            (d, wanted[d], identities[d].dev_eui, identities[d].external_id) for d in lorawan
        ]
        if lorawan:
            await uplinks.register(
                conn,
                [
                    (
                        d,
                        wanted[d],
                        identities[d].dev_eui,
                        identities[d].external_id,
                        identities[d].name,
                    )
                    for d in lorawan
                ],
            )
        await self._load(conn, unknown)
        for device_id in unknown:
            log.info("device registered", extra={"device_id": device_id})
        return registered

    async def _load(self, conn: AsyncConn, device_ids: list[str]) -> None:
        cur = await conn.execute(q.SELECT_DEVICES, {"device_ids": device_ids})
        for pk, device_id, profile, decommissioned in await cur.fetchall():
            self._devices[device_id] = KnownDevice(pk, profile, decommissioned)

    @property
    def known_series(self) -> dict[tuple[int, str], int]:
        """Series ids by (device pk, metric) known so far (see :meth:`series`)."""
        return self._series

    async def series(
        self, conn: AsyncConn, accepted: Sequence[tuple[Item, KnownDevice]]
    ) -> dict[tuple[int, str], int]:
        """Series ids by (device pk, metric) covering ``accepted``, registering new ones."""
        missing = {
            (device.pk, r.metric)
            for item, device in accepted
            for r in item.readings
            if (device.pk, r.metric) not in self._series
        }
        missing.update(
            (device.pk, uplinks.MISSED_FRAMES)
            for item, device in accepted
            if item.lorawan is not None
            and item.lorawan.missed_frames
            and (device.pk, uplinks.MISSED_FRAMES) not in self._series
        )
        if missing:
            params = {"devices": [d for d, _ in missing], "metrics": [m for _, m in missing]}
            await conn.execute(q.REGISTER_SERIES, params)
            cur = await conn.execute(q.SELECT_SERIES, params)
            for pk, device, metric in await cur.fetchall():
                self._series[device, metric] = pk
        return self._series

    def last_seen_due(self, seen: dict[int, datetime]) -> dict[int, datetime]:
        """Of the latest receive times by device pk, those worth writing (the stored
        one is older by at least :data:`LAST_SEEN_RESOLUTION`)."""
        return {
            pk: at
            for pk, at in seen.items()
            if pk not in self._last_seen or at - self._last_seen[pk] >= LAST_SEEN_RESOLUTION
        }

    def last_seen_written(self, seen: dict[int, datetime]) -> None:
        self._last_seen.update(seen)


def refusal(item: Item, device: KnownDevice | None) -> DeadLetter | None:
    """Why the writer refuses ``item`` (unknown, decommissioned, other profile), or None."""

    def dead(reason: str, detail: str) -> DeadLetter:
        return DeadLetter(
            item.received_at,
            item.topic,
            item.payload,
            reason,
            detail,
            item.device_id,
            item.format,
        )

    if device is None:
        return dead("unknown_device", f"device {item.device_id!r} is not registered")
    if device.decommissioned:
        return dead("unknown_device", f"device {item.device_id!r} is decommissioned")
    if device.profile != item.profile:
        return dead(
            "profile_mismatch", f"device {item.device_id!r} is registered as {device.profile!r}"
        )
    return None
