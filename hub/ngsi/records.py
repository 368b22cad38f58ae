"""The records the NGSI-LD views are built from (filled by :mod:`hub.store.ngsi`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Observation:
    time: datetime
    value: float


@dataclass(frozen=True, slots=True)
class DeviceSnapshot:
    """What the hub knows of one device now."""

    device_id: str
    profile: str
    name: str | None
    district: str | None
    lat: float | None
    lon: float | None
    status: str
    last_seen: datetime | None
    values: Mapping[str, Observation]
    open_rules: frozenset[str] = frozenset()
    air_quality: tuple[str, datetime] | None = None

    @property
    def observed_at(self) -> datetime | None:
        return max((o.time for o in self.values.values()), default=None)
