"""The records the NGSI-LD views are built from (filled by :mod:`hub.store.ngsi`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from hub.model import Device


@dataclass(frozen=True, slots=True)
class Observation:
    time: datetime
    value: float


@dataclass(frozen=True, slots=True)
class DeviceSnapshot(Device):
    """What the hub knows of one device now: its record, latest values, open alert
    rules and air-quality class."""

    values: Mapping[str, Observation] = field(default_factory=dict)
    open_rules: frozenset[str] = frozenset()
    air_quality: tuple[str, datetime] | None = None

    @property
    def observed_at(self) -> datetime | None:
        return max((o.time for o in self.values.values()), default=None)
