"""Small domain types shared along the data path."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

MessageKind = Literal["telemetry", "status"]


@dataclass(frozen=True, slots=True)
class Reading:
    """One value of one metric of one device at one instant (timezone-aware UTC)."""

    device_id: str
    metric: str
    time: datetime
    value: float


@dataclass(frozen=True, slots=True)
class Topic:
    """A parsed device topic: ``{prefix}/{profile}/{device_id}/{kind}``."""

    profile: str
    device_id: str
    kind: MessageKind
