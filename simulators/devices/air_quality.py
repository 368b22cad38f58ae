"""An air-quality monitor: traffic rush hours, wood burning, winter episodes, spring dust."""

from __future__ import annotations

import math
from collections.abc import Mapping

from hub.profiles import Profile
from simulators.devices.base import ModelBase, Values
from simulators.faults import FaultWindow
from simulators.fleet import DeviceSpec
from simulators.weather import Environment


def traffic(hour: float, weekday: int) -> float:
    """Relative traffic intensity, 1 at the weekday morning rush."""
    if weekday >= 5:
        return 0.08 + 0.42 * math.exp(-(((hour - 13.5) / 4.0) ** 2))
    morning = math.exp(-(((hour - 7.8) / 1.1) ** 2))
    evening = 0.9 * math.exp(-(((hour - 16.0) / 1.4) ** 2))
    day = 0.45 * math.exp(-(((hour - 12.0) / 4.5) ** 2))
    return 0.06 + max(morning, evening, day)


def stove_hours(hour: float) -> float:
    """When wood stoves burn: evenings, a little in the morning."""
    return max(
        math.exp(-(((hour - 20.0) / 2.5) ** 2)),
        0.35 * math.exp(-(((hour - 7.0) / 1.5) ** 2)),
    )


class AirQuality(ModelBase):
    def __init__(self, spec: DeviceSpec, profile: Profile, env: Environment) -> None:
        super().__init__(spec, profile, env)
        self.traffic_factor = self.trait("traffic", 1.0)
        self.wood = self.trait("wood_burning", 1.0)

    def sample(self, t: float, dt: float, faults: Mapping[str, FaultWindow]) -> Values:
        env = self.env
        hour, weekday, doy = env.local(t)
        road = traffic(hour, weekday) * self.traffic_factor
        stagnation = env.inversion(t) / env.wind_dilution(t)
        # Weaker mixing at night and in the cold keeps pollution near the ground.
        stagnation *= 1.0 + 0.3 * math.cos(2 * math.pi * (hour - 3) / 24)
        gauss = self.rng.gauss
        no2 = (7.0 + 50.0 * road) * stagnation + gauss(0, 2.0)
        smoke = 28.0 * self.wood * env.heating(t) * stove_hours(hour) * stagnation
        pm25 = 3.0 + 3.0 * road * stagnation + smoke + abs(gauss(0, 1.0))
        dust = 70.0 * env.road_dust(t) * road / env.wind_dilution(t)
        pm10 = pm25 * 1.25 + 4.0 + dust + abs(gauss(0, 2.0))
        spring = math.exp(-(((doy - 125) / 60.0) ** 2))
        daylight = max(0.0, math.cos(2 * math.pi * (hour - 14.5) / 24))
        o3 = (42.0 + 40.0 * spring) * (0.65 + 0.35 * daylight) - 0.45 * no2 + gauss(0, 3.0)
        temperature = env.temperature(t) + (
            0.6 if self.spec.traits.get("site") == "roadside" else 0.0
        )
        humidity = env.humidity(t) + gauss(0, 1.5)
        # Solar-charged: the battery sags through the dark months.
        winter = max(0.0, math.cos(2 * math.pi * (doy - 355) / 365))
        battery = self.trait("battery_start", 90) - 35.0 * winter * max(0.3, (env.lat - 55) / 15)
        return {
            "pm10": round(self.clamp("pm10", pm10), 1),
            "pm25": round(self.clamp("pm25", pm25), 1),
            "no2": round(self.clamp("no2", no2), 1),
            "o3": round(self.clamp("o3", o3), 1),
            "temperature": round(self.clamp("temperature", temperature + gauss(0, 0.2)), 1),
            "humidity": round(self.clamp("humidity", humidity), 1),
            "battery": float(round(self.clamp("battery", battery))),
        }
