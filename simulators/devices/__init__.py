"""Behaviour models of simulated devices, chosen by the profile's model name."""

from __future__ import annotations

from hub.profiles import Profile
from simulators.devices.air_quality import AirQuality
from simulators.devices.base import DeviceModel, Values
from simulators.devices.generic import Generic
from simulators.devices.street_light import StreetLight
from simulators.devices.water_meter import WaterMeter
from simulators.fleet import DeviceSpec
from simulators.weather import Environment

_MODELS: dict[str, type[StreetLight | WaterMeter | AirQuality | Generic]] = {
    "street_light": StreetLight,
    "water_meter": WaterMeter,
    "air_quality": AirQuality,
    "generic": Generic,
}

__all__ = ["DeviceModel", "Values", "make_model"]


def make_model(spec: DeviceSpec, profile: Profile, env: Environment) -> DeviceModel:
    """The behaviour model for ``spec``; a dedicated model needs its metrics in the profile."""
    cls = _MODELS[spec.model]
    if cls is not Generic:
        needed = set(_REQUIRED[spec.model])
        if not needed <= profile.metrics.keys():
            cls = Generic  # a profile that reuses a model name but not its metrics
    return cls(spec, profile, env)


_REQUIRED = {
    "street_light": ("lamp_on", "dim_level", "power", "energy", "voltage"),
    "water_meter": ("volume", "flow", "temperature", "battery"),
    "air_quality": ("pm10", "pm25", "no2", "o3", "temperature", "humidity", "battery"),
}
