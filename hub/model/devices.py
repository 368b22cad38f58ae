"""Devices: the registry's record of one, and what the alert engine needs of one
in service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Device:
    """A registered device, as operators and the API see it."""

    id: int
    device_id: str
    profile: str
    name: str | None
    district: str | None
    lat: float | None
    lon: float | None
    status: str
    status_changed_at: datetime | None
    registered_at: datetime
    last_seen: datetime | None
    decommissioned_at: datetime | None
    dev_eui: str | None = None
    external_id: str | None = None
    # Effective data class (docs/privacy.md) and the per-device override, if any.
    data_class: str = "internal"
    data_class_override: str | None = None


@dataclass(frozen=True, slots=True)
class DeviceRow:
    """A device in service, as the alert engine evaluates it."""

    pk: int
    device_id: str
    profile: str
    district: str | None
    lat: float | None
    lon: float | None
    status: str
    status_changed_at: datetime | None
    last_seen: datetime | None
