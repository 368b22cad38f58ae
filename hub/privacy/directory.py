"""Each device's data class, in memory, for the paths that see readings before (or
without) a query: the live stream, the SensorThings MQTT feed, NGSI-LD
notifications and the push to a context broker (hub.privacy.policy decides what
each reader may see of a class; this only says which class a device has).

Most devices have their profile's class, so only the profiles' classes and the
devices that differ from them are held, reloaded every ``refresh_s`` (and at once
after a change through the API: :meth:`ClassDirectory.refresh_soon`). A device not
known yet counts as its profile's class, a profile not known yet as ``personal``:
the narrowest, never wider than the truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

import psycopg

from hub.privacy.classes import DataClass, parse_class
from hub.store.db import aconnect

log = logging.getLogger(__name__)

PROFILE_CLASSES = "SELECT profile, data_class FROM profile_data_classes"
# Devices whose class is not their profile's (overridden, or of an unknown profile).
EXCEPTIONS = """
SELECT d.device_id, d.data_class FROM devices d
LEFT JOIN profile_data_classes p ON p.profile = d.profile
WHERE d.data_class IS DISTINCT FROM p.data_class
"""


class ClassDirectory:
    """device id (and profile) -> data class, kept fresh in the background."""

    def __init__(self, profiles: Mapping[str, DataClass] | None = None) -> None:
        self._profiles: dict[str, DataClass] = dict(profiles or {})
        self._devices: dict[str, DataClass] = {}
        self._wake = asyncio.Event()
        self.loaded = False

    def class_of(self, device_id: str, profile: str | None) -> DataClass:
        found = self._devices.get(device_id)
        if found is not None:
            return found
        if profile is not None and profile in self._profiles:
            return self._profiles[profile]
        return "personal"

    def set_device(self, device_id: str, data_class: str) -> None:
        """What the API just wrote (before the next reload)."""
        self._devices[device_id] = parse_class(data_class)
        self.refresh_soon()

    def refresh_soon(self) -> None:
        self._wake.set()

    async def load(self, url: str) -> None:
        async with await aconnect(url, "privacy", autocommit=True) as conn:
            profiles = await (await conn.execute(PROFILE_CLASSES)).fetchall()
            devices = await (await conn.execute(EXCEPTIONS)).fetchall()
        self._profiles = {p: parse_class(c) for p, c in profiles}
        self._devices = {d: parse_class(c) for d, c in devices}
        self.loaded = True

    async def run(self, url: str, refresh_s: float) -> None:
        """Reload every ``refresh_s`` (or when woken) until cancelled."""
        while True:
            try:
                await self.load(url)
            except psycopg.Error as exc:
                log.warning("data classes not reloaded: %s", exc)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), refresh_s)
