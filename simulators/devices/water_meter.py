"""A household water meter: daily use pattern, cumulative register, night silence."""

from __future__ import annotations

import math
from collections.abc import Mapping

from hub.profiles import Profile
from simulators.devices.base import ModelBase, Values
from simulators.faults import FaultWindow
from simulators.fleet import DeviceSpec
from simulators.weather import Environment

# Share of a weekday's use per local hour: morning and evening peaks, quiet nights.
_WEEKDAY = (
    0.6, 0.3, 0.2, 0.2, 0.4, 1.5, 5.5, 8.5, 6.5, 4.0, 3.3, 3.4,
    3.8, 3.4, 3.2, 3.8, 5.0, 6.5, 7.2, 6.8, 6.0, 5.2, 3.8, 1.8,
)  # fmt: skip
# Weekends: a later, flatter morning.
_WEEKEND = (
    0.9, 0.5, 0.3, 0.2, 0.2, 0.4, 1.0, 2.5, 5.0, 6.8, 7.0, 6.2,
    5.5, 4.6, 4.2, 4.4, 5.0, 6.0, 6.5, 6.0, 5.5, 4.8, 3.6, 2.0,
)  # fmt: skip
_W_DAY = tuple(w / sum(_WEEKDAY) for w in _WEEKDAY)
_W_END = tuple(w / sum(_WEEKEND) for w in _WEEKEND)
_DRAW_LITRES = 7.0  # mean volume of one draw: a flush, a tap, part of a shower
_EPOCH_2024 = 1_704_067_200


class WaterMeter(ModelBase):
    def __init__(self, spec: DeviceSpec, profile: Profile, env: Environment) -> None:
        super().__init__(spec, profile, env)
        self.daily_l = self.trait("persons", 2) * self.trait("litres_per_person_day", 180)
        self.register_m3 = self.trait("register_start_m3", 100.0)
        self.shift_h = self.trait("early_riser_h", 0.0)

    def _hourly_share(self, t: float) -> float:
        hour, weekday, _ = self.env.local(t)
        table = _W_END if weekday >= 5 else _W_DAY
        h = (hour - self.shift_h) % 24
        i = int(h)
        frac = h - i
        return table[i] * (1 - frac) + table[(i + 1) % 24] * frac

    def sample(self, t: float, dt: float, faults: Mapping[str, FaultWindow]) -> Values:
        litres = 0.0
        if dt > 0:
            expected = self.daily_l * self._hourly_share(t) * dt / 3600
            draws = self.poisson(expected / _DRAW_LITRES)
            litres = sum(self.rng.gammavariate(2.0, _DRAW_LITRES / 2) for _ in range(draws))
            if "leak" in faults:
                litres += float(faults["leak"].params.get("flow_lph", 12)) * dt / 3600
            if "burst" in faults:
                litres += float(faults["burst"].params.get("flow_lph", 4500)) * dt / 3600
            if "backflow" in faults:
                litres = -float(faults["backflow"].params.get("flow_lph", 60)) * dt / 3600
        flow = litres / dt * 3600 if dt > 0 else 0.0
        self.register_m3 = max(0.0, self.register_m3 + litres / 1000)
        years = (t - _EPOCH_2024) / (365.25 * 86_400)
        battery = self.trait("battery_start", 90) - 4.0 * max(0.0, years)
        temperature = self.env.water_temperature(t) + self.trait("pit_offset_c", 0.0)
        temperature += 0.3 * math.sin(2 * math.pi * t / 86_400) + self.rng.gauss(0, 0.05)
        return {
            "volume": round(self.register_m3, 3),
            "flow": round(self.clamp("flow", flow), 1),
            "temperature": round(temperature, 1),
            "battery": float(round(self.clamp("battery", battery))),
        }
