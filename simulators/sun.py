"""Sun elevation at a place and time, cached: a town shares one sky.

The lamps switch on a threshold of solar elevation rather than on sunset and
sunrise events, so polar night (the sun never rises: lamps stay on) and midnight
sun (it never sets: lamps stay off) need no special cases.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from astral import Observer
from astral.sun import elevation


def sun_elevation(lat: float, lon: float, t: float) -> float:
    """Solar elevation in degrees at ``lat``/``lon`` at epoch second ``t``."""
    # Rounding to ~1 km and one minute changes the elevation by under 0.3 degrees.
    return _elevation(round(lat, 2), round(lon, 2), int(t // 60))


@lru_cache(maxsize=262_144)
def _elevation(lat: float, lon: float, minute: int) -> float:
    when = datetime.fromtimestamp(minute * 60 + 30, UTC)
    return float(elevation(Observer(latitude=lat, longitude=lon), when))
