"""The ingest's device directory: devices by DevEUI and external id, loaded from
the database and handed to the decode step as an in-memory snapshot.

It is reloaded every ``HUB_DEVICE_DIRECTORY_REFRESH_S`` seconds, and at once
(at most once a second) when an uplink names a device the snapshot lacks, so a
device registered through the API is found by its first uplink. While the
database is unreachable the last snapshot stays in use.
"""

from __future__ import annotations

import asyncio
import logging
import time

import psycopg

from hub.payloads import DeviceDirectory, KnownDevice
from hub.store.db import aconnect
from hub.store.identities import load_identities

log = logging.getLogger(__name__)

_SOON_S = 1.0  # a reload on demand waits this long after the previous one on demand
_TIMEOUT_S = 5.0


class DirectoryLoader:
    """Loads :class:`DeviceDirectory` snapshots.

    Args:
        url: PostgreSQL URL.
        refresh_s: seconds between two periodic reloads.
    """

    def __init__(self, url: str, *, refresh_s: float) -> None:
        self._url = url
        self.refresh_s = refresh_s
        self.snapshot = DeviceDirectory()
        self._demanded_at = -1e9
        self._lock = asyncio.Lock()

    async def refresh(self, *, soon: bool = False) -> bool:
        """Reload; with ``soon`` (an uplink named a device the snapshot lacks), only
        if the last such reload is older than a second. True when a new snapshot
        was loaded."""
        async with self._lock:
            if soon:
                if time.monotonic() - self._demanded_at < _SOON_S:
                    return False
                self._demanded_at = time.monotonic()
            try:
                async with asyncio.timeout(_TIMEOUT_S):  # not wait_for (Python 3.11)
                    rows = await self._load()
            except (psycopg.Error, OSError, TimeoutError) as exc:
                log.debug("device directory not reloaded: %s", exc)
                return False
        by_eui: dict[str, KnownDevice] = {}
        by_external: dict[str, KnownDevice] = {}
        for device_id, profile, eui, external_id in rows:
            known = KnownDevice(device_id, profile)
            if eui is not None:
                by_eui[eui] = known
            if external_id is not None:
                by_external[external_id] = known
        self.snapshot = DeviceDirectory(by_dev_eui=by_eui, by_external_id=by_external)
        return True

    def add(self, devices: list[tuple[str, str, str | None, str | None]]) -> None:
        """Devices the writer just registered: known to the next uplink at once."""
        by_eui = dict(self.snapshot.by_dev_eui)
        by_external = dict(self.snapshot.by_external_id)
        for device_id, profile, eui, external_id in devices:
            known = KnownDevice(device_id, profile)
            if eui is not None:
                by_eui[eui] = known
            if external_id is not None:
                by_external[external_id] = known
        self.snapshot = DeviceDirectory(by_dev_eui=by_eui, by_external_id=by_external)

    async def _load(self) -> list[tuple[str, str, str | None, str | None]]:
        conn = await aconnect(self._url, "directory", autocommit=True)
        try:
            return await load_identities(conn)
        finally:
            await conn.close()
