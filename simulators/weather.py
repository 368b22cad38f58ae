"""Town-wide weather and air-pollution conditions, deterministic from the seed.

Every quantity is a pure function of the seed and the time, so any device can be
simulated from any start time and all monitors of a town see the same episode.
Figures follow an inland eastern Norwegian climate, cooled with latitude.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

# Monthly mean air temperature (Cel) of an inland town near 61 N, January first.
_MONTHLY_MEAN_C = (-7.0, -6.0, -2.0, 3.0, 9.0, 14.0, 16.0, 14.5, 9.5, 4.0, -1.0, -5.0)
_DAY = 86_400


class Environment:
    """What every device of one simulated town shares: clock zone, sky, weather."""

    def __init__(self, *, seed: int, lat: float, timezone: str = "Europe/Oslo") -> None:
        self.seed = seed
        self.lat = lat
        self.zone = ZoneInfo(timezone)
        rng = random.Random(f"weather:{seed}")
        self._phases = [rng.uniform(0, 2 * math.pi) for _ in range(4)]

    # ---- clock ------------------------------------------------------------------

    def local(self, t: float) -> tuple[float, int, int]:
        """Local hour of day (fractional), weekday (0 = Monday) and day of year."""
        return _local(self.zone, int(t // 60))

    # ---- weather ------------------------------------------------------------------

    def temperature(self, t: float) -> float:
        hour, _, doy = self.local(t)
        month_pos = (doy - 15) / 30.44
        i = math.floor(month_pos) % 12
        frac = month_pos - math.floor(month_pos)
        mean = _MONTHLY_MEAN_C[i] * (1 - frac) + _MONTHLY_MEAN_C[(i + 1) % 12] * frac
        mean -= max(0.0, self.lat - 61.0) * 0.45
        days = t / _DAY
        anomaly = (
            3.5 * math.sin(2 * math.pi * days / 6.3 + self._phases[0])
            + 2.5 * math.sin(2 * math.pi * days / 11.7 + self._phases[1])
            + 1.5 * math.sin(2 * math.pi * days / 3.1 + self._phases[2])
        )
        summer = 0.5 - 0.5 * math.cos(2 * math.pi * (doy - 15) / 365)
        diurnal = (2.0 + 4.0 * summer) * math.cos(2 * math.pi * (hour - 15) / 24)
        return mean + anomaly + diurnal

    def humidity(self, t: float) -> float:
        hour, _, doy = self.local(t)
        winter = 0.5 + 0.5 * math.cos(2 * math.pi * (doy - 15) / 365)
        base = 66 + 16 * winter
        swing = 14 * math.cos(2 * math.pi * (hour - 5) / 24)
        wet = 8 * math.sin(2 * math.pi * t / _DAY / 4.3 + self._phases[3])
        return max(20.0, min(100.0, base + swing + wet))

    def water_temperature(self, t: float) -> float:
        """Cold-water mains: about 3 Cel in March, 11 Cel in late August."""
        _, _, doy = self.local(t)
        return 7.0 + 4.0 * math.cos(2 * math.pi * (doy - 240) / 365)

    # ---- pollution drivers ------------------------------------------------------------

    def inversion(self, t: float) -> float:
        """Dispersion penalty: 1 normally, 1.5-3.2 during a winter inversion episode."""
        return _episode(self.seed, int(t // _DAY))

    def wind_dilution(self, t: float) -> float:
        day = int(t // _DAY)
        return random.Random(f"wind:{self.seed}:{day}").uniform(0.7, 1.5)

    def road_dust(self, t: float) -> float:
        """Spring dust from studded tyres on dry days (March to mid-May)."""
        _, _, doy = self.local(t)
        if not 60 <= doy <= 135:
            return 0.0
        day = int(t // _DAY)
        dry = random.Random(f"dry:{self.seed}:{day}").random() < 0.55
        return 1.0 if dry else 0.15

    def heating(self, t: float) -> float:
        """Wood-stove use, 0-1, rising as it gets colder."""
        return max(0.0, min(1.0, (8.0 - self.temperature(t)) / 18.0))


@lru_cache(maxsize=65_536)
def _local(zone: ZoneInfo, minute: int) -> tuple[float, int, int]:
    when = datetime(1970, 1, 1, tzinfo=ZoneInfo("UTC")) + timedelta(minutes=minute)
    local = when.astimezone(zone)
    return local.hour + local.minute / 60, local.weekday(), local.timetuple().tm_yday


@lru_cache(maxsize=4096)
def _episode(seed: int, day: int) -> float:
    """Winter inversion episodes: start on about 1 day in 12, last 2-5 days."""
    strength = 1.0
    for start in range(day - 5, day + 1):
        rng = random.Random(f"episode:{seed}:{start}")
        month = datetime(1970, 1, 1) + timedelta(days=start)
        if month.month not in (11, 12, 1, 2, 3) or rng.random() > 1 / 12:
            continue
        length = rng.randint(2, 5)
        if start + length > day:
            strength = max(strength, rng.uniform(1.5, 3.2))
    return strength
