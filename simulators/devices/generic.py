"""Any profile without a dedicated model: gauges follow a daily wave, counters climb.

The profile's optional ``simulation.metrics`` hints set the wave; without hints
a gauge wanders around the middle of its plausible range.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from hub.profiles import Metric, MetricSimulation, Profile
from simulators.devices.base import ModelBase, Values
from simulators.faults import FaultWindow
from simulators.fleet import DeviceSpec
from simulators.weather import Environment


def _default_hint(metric: Metric) -> MetricSimulation:
    low = metric.min if metric.min is not None else 0.0
    high = metric.max if metric.max is not None else low + 100.0
    span = high - low
    if metric.kind == "counter":
        return MetricSimulation(baseline=low, rate_per_h=max(span / 50_000, 0.01))
    return MetricSimulation(
        baseline=low + span / 2, daily_amplitude=span / 8, noise=span / 50, decimals=2
    )


class Generic(ModelBase):
    def __init__(self, spec: DeviceSpec, profile: Profile, env: Environment) -> None:
        super().__init__(spec, profile, env)
        hints = profile.simulation.metrics if profile.simulation else {}
        self.hints = {n: hints.get(n) or _default_hint(m) for n, m in profile.metrics.items()}
        self.counters = {
            n: self.hints[n].baseline for n, m in profile.metrics.items() if m.kind == "counter"
        }
        self.flags = {
            n: self.rng.random() < 0.5 for n, m in profile.metrics.items() if m.type == "bool"
        }

    def sample(self, t: float, dt: float, faults: Mapping[str, FaultWindow]) -> Values:
        hour, _, _ = self.env.local(t)
        values: Values = {}
        for name, metric in self.profile.metrics.items():
            hint = self.hints[name]
            if metric.type == "bool":
                if self.rng.random() < 0.05:
                    self.flags[name] = not self.flags[name]
                values[name] = self.flags[name]
                continue
            if metric.kind == "counter":
                self.counters[name] += hint.rate_per_h * dt / 3600 * self.rng.uniform(0.5, 1.5)
                value = self.counters[name]
            else:
                wave = math.cos(2 * math.pi * (hour - hint.peak_hour) / 24)
                value = hint.baseline + hint.daily_amplitude * wave + self.rng.gauss(0, hint.noise)
            value = self.clamp(name, value)
            if metric.type == "int":
                value = float(round(value))
            values[name] = round(value, hint.decimals)
        return values
