"""The sun's elevation at a lamp, cached: a town shares one sky.

Lamps are judged against the solar elevation at their own position rather than
against sunrise and sunset: north of the Arctic Circle the sun may not rise
(polar night: it stays below the threshold, so lamps should burn all day) or not
set (midnight sun: lamps should stay dark all night), and neither needs a special
case. Elevations come from ``astral`` (NOAA's algorithm, about 0.1 degree).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from astral import Observer
from astral.sun import elevation

# Civil twilight: below -6 degrees it is dark enough that every lamp must burn.
CIVIL_DUSK_DEG = -6.0
# Above +3 degrees it is full day: a lit lamp is a day burner.
FULL_DAY_DEG = 3.0


def sun_elevation(lat: float, lon: float, when: datetime) -> float:
    """Solar elevation in degrees at ``lat``/``lon`` and instant ``when`` (aware)."""
    return sun_elevation_at(lat, lon, when.timestamp())


def sun_elevation_at(lat: float, lon: float, epoch_s: float) -> float:
    """Solar elevation in degrees at ``lat``/``lon`` at epoch second ``epoch_s``
    (the simulated street lights switch on it too)."""
    # Rounding to about 1 km and one minute moves the elevation by under 0.3 degrees
    # and lets a town's lamps share the computation.
    return _elevation(round(lat, 2), round(lon, 2), int(epoch_s // 60))


@lru_cache(maxsize=65_536)
def _elevation(lat: float, lon: float, minute: int) -> float:
    instant = datetime.fromtimestamp(minute * 60 + 30, UTC)
    return float(elevation(Observer(latitude=lat, longitude=lon), instant))
