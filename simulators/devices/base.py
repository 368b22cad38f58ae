"""What every device model shares: the sampling interface and small helpers."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Protocol

from hub.profiles import Profile
from simulators.faults import FaultWindow
from simulators.fleet import DeviceSpec
from simulators.weather import Environment

Values = dict[str, float | bool]


class DeviceModel(Protocol):
    """Produces a device's metric values at successive report times.

    ``sample`` is called with increasing times; ``dt`` is the time since the last
    call (0 on the first), so counters can integrate. ``faults`` holds the
    physical faults active at ``t``, keyed by kind.
    """

    def sample(self, t: float, dt: float, faults: Mapping[str, FaultWindow]) -> Values: ...


class ModelBase:
    def __init__(self, spec: DeviceSpec, profile: Profile, env: Environment) -> None:
        self.spec = spec
        self.profile = profile
        self.env = env
        self.rng = random.Random(f"model:{env.seed}:{spec.device_id}")

    def trait(self, name: str, default: float) -> float:
        value = self.spec.traits.get(name, default)
        return float(value)

    def clamp(self, metric: str, value: float) -> float:
        m = self.profile.metrics[metric]
        if m.min is not None and value < m.min:
            value = m.min
        if m.max is not None and value > m.max:
            value = m.max
        return value

    def poisson(self, mean: float) -> int:
        """A Poisson draw; normal approximation for large means."""
        if mean <= 0:
            return 0
        if mean > 30:
            return max(0, round(self.rng.gauss(mean, mean**0.5)))
        limit, k, p = pow(2.718281828459045, -mean), 0, 1.0
        while True:
            p *= self.rng.random()
            if p <= limit:
                return k
            k += 1
