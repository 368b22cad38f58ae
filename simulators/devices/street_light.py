"""A networked LED street light: photocell switching, night dimming, energy register."""

from __future__ import annotations

from collections.abc import Mapping

from hub.alerts.sun import sun_elevation_at
from hub.profiles import Profile
from simulators.devices.base import ModelBase, Values
from simulators.faults import FaultWindow
from simulators.fleet import DeviceSpec
from simulators.weather import Environment

_HYSTERESIS_DEG = 0.5
_STANDBY_W = 0.6  # the controller itself


class StreetLight(ModelBase):
    def __init__(self, spec: DeviceSpec, profile: Profile, env: Environment) -> None:
        super().__init__(spec, profile, env)
        self.rated_w = self.trait("rated_w", 60.0)
        self.threshold = self.trait("switch_elevation", -1.0)
        self.dims = bool(spec.traits.get("night_dimming", True))
        self.energy_kwh = self.trait("energy_start_kwh", 100.0)
        self.on: bool | None = None
        self.last_power = 0.0

    def _photocell(self, t: float) -> bool:
        elevation = sun_elevation_at(self.spec.lat, self.spec.lon, t)
        if self.on is None:
            return elevation < self.threshold
        if self.on:
            return elevation < self.threshold + _HYSTERESIS_DEG
        return elevation < self.threshold

    def sample(self, t: float, dt: float, faults: Mapping[str, FaultWindow]) -> Values:
        dark = self._photocell(t)
        self.on = dark
        lit = dark
        if "day_burner" in faults:
            lit = True  # a stuck relay or a lost schedule: on around the clock
        if "cycling" in faults and lit:
            # End-of-life lamp: goes out when hot, restrikes when cooled down.
            period = float(faults["cycling"].params.get("period_s", 600))
            lit = int((t - faults["cycling"].start) // (period / 2)) % 2 == 0
        hour, _, _ = self.env.local(t)
        dim = 0
        if lit:
            dim = 50 if self.dims and (hour >= 23 or hour < 5) else 100
        if lit and "lamp_outage" not in faults:
            power = self.rated_w * (0.08 + 0.92 * dim / 100) * self.rng.gauss(1.0, 0.015)
        else:
            power = _STANDBY_W + self.rng.uniform(-0.1, 0.3)
        power = self.clamp("power", power)
        # Trapezoid between reports: exact for steady states, close across switching.
        self.energy_kwh += (self.last_power + power) / 2 * dt / 3_600_000
        self.last_power = power
        evening_sag = 3.0 if 16 <= hour < 20 else 0.0
        voltage = 232.0 - evening_sag + self.rng.gauss(0.0, 1.2)
        return {
            "lamp_on": lit,
            "dim_level": float(dim),
            "power": round(power, 1),
            "energy": round(self.energy_kwh, 3),
            "voltage": round(self.clamp("voltage", voltage), 1),
        }
