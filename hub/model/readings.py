"""A reading: one value of one metric of one device at one instant.

``Reading`` is a NamedTuple rather than a frozen dataclass: it is created three
times per message on the ingest's hot path, and a frozen dataclass costs about
twice as much to build (docs/adr/0007-hot-path-records.md)."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple


class Reading(NamedTuple):
    """One value of one metric of one device at one instant (timezone-aware UTC)."""

    device_id: str
    metric: str
    time: datetime
    value: float
