"""From a device and its latest readings to NGSI-LD entities (Smart Data Models).

Driven by the device profiles: ``fiware_type`` names the entity type, each
metric's ``fiware`` its attribute (metrics without one stay in the hub's own
API), ``fiware_values`` the texts of a bool metric, ``fiware_attributes`` and
``fiware_device_attributes`` static attributes. Every device of a profile with a
``fiware_type`` gives two entities:

- ``urn:ngsi-ld:{Type}:{device_id}``: what it observes, one Property per mapped
  metric (``observedAt`` = the reading's time, ``unitCode`` = UN/CEFACT common
  code), ``location`` as GeoProperty, the observation time, ``refDevice``;
- ``urn:ngsi-ld:Device:{device_id}``: the device (battery, state, last report).

Values are coerced to the types of :mod:`hub.ngsi.models`: a percentage becomes a
ratio where the model wants 0-1, a number an integer where it wants one (rounded
down: a register shows whole units).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from hub.ngsi import models
from hub.ngsi.records import DeviceSnapshot
from hub.profiles import Metric, Profile

Entity = dict[str, Any]

PREFIX: Final = "urn:ngsi-ld:"
DEVICE_TYPE: Final = "Device"

# UN/CEFACT Recommendation 20 common codes of the hub's units (hub.profiles.KNOWN_UNITS).
UNIT_CODES: Final[dict[str, str]] = {
    "1": "C62",
    "/": "C62",
    "%": "P1",
    "%RH": "P1",
    "%EL": "P1",
    "W": "WTT",
    "kW": "KWT",
    "Wh": "WHR",
    "kWh": "KWH",
    "V": "VLT",
    "mV": "2Z",
    "A": "AMP",
    "mA": "4K",
    "Cel": "CEL",
    "K": "KEL",
    "Pa": "PAL",
    "hPa": "A97",
    "kPa": "KPA",
    "bar": "BAR",
    "lx": "LUX",
    "m": "MTR",
    "cm": "CMT",
    "mm": "MMT",
    "m3": "MTQ",
    "l": "LTR",
    "m3/s": "MQS",
    "m3/h": "MQH",
    "l/h": "E32",
    "ug/m3": "GQ",
    "mg/m3": "GP",
    "ppm": "59",
    "ppb": "61",
    "dB": "2N",
    "s": "SEC",
    "h": "HUR",
}
_PERCENT: Final = frozenset({"%", "%RH", "%EL"})

# Open alerts that say a street light is broken (Streetlight.status).
STREETLIGHT_FAULTS: Final[dict[str, str]] = {"lamp_outage": "defectiveLamp"}


@dataclass(frozen=True, slots=True)
class Target:
    """Where one metric goes: entity type and attribute."""

    type: str
    attribute: str
    metric: Metric
    model: models.Model | None

    def convert(self, value: float) -> Any:
        metric = self.metric
        if metric.type == "bool":
            on = value >= 0.5
            return metric.fiware_values[int(on)] if metric.fiware_values else on
        if self.ratio:
            return value / 100.0
        if self.model is not None and models.is_integer(self.model, self.attribute):
            return math.floor(value)
        if metric.type == "int":
            return round(value)
        return value

    def scale(self, value: float) -> float:
        """An aggregate in the attribute's unit (no rounding, no texts)."""
        return value / 100.0 if self.ratio else value

    @property
    def ratio(self) -> bool:
        return (
            self.model is not None
            and self.metric.unit in _PERCENT
            and models.is_ratio(self.model, self.attribute)
        )

    @property
    def numeric(self) -> bool:
        return not (self.metric.type == "bool" and self.metric.fiware_values)

    @property
    def unit_code(self) -> str | None:
        if self.metric.type == "bool":
            return None
        return "C62" if self.ratio else UNIT_CODES.get(self.metric.unit)


def iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def entity_id(entity_type: str, device_id: str) -> str:
    return f"{PREFIX}{entity_type}:{device_id}"


def split_id(value: str) -> tuple[str, str] | None:
    """``urn:ngsi-ld:{Type}:{device_id}`` -> (type, device_id)."""
    if not value.startswith(PREFIX):
        return None
    kind, sep, device_id = value[len(PREFIX) :].partition(":")
    return (kind, device_id) if sep and kind and device_id else None


def _prop(value: Any, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "Property", "value": value}
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


class Mapper:
    """The mapping of every profile with a ``fiware_type``."""

    def __init__(self, profiles: Mapping[str, Profile]) -> None:
        self.profiles = {n: p for n, p in profiles.items() if p.fiware_type}
        self.targets: dict[str, dict[str, Target]] = {}
        for name, profile in self.profiles.items():
            assert profile.fiware_type is not None
            observed = models.MODELS.get(profile.fiware_type)
            targets = {}
            for metric in profile.metrics.values():
                if metric.fiware is None:
                    continue
                if metric.fiware in models.DEVICE_ATTRIBUTES:
                    targets[metric.name] = Target(DEVICE_TYPE, metric.fiware, metric, models.DEVICE)
                else:
                    targets[metric.name] = Target(
                        profile.fiware_type, metric.fiware, metric, observed
                    )
            self.targets[name] = targets

    def types(self) -> dict[str, list[str]]:
        """Entity type -> the profiles whose devices give entities of it."""
        found: dict[str, list[str]] = {}
        for name, profile in sorted(self.profiles.items()):
            assert profile.fiware_type is not None
            found.setdefault(profile.fiware_type, []).append(name)
            found.setdefault(DEVICE_TYPE, []).append(name)
        return found

    def attribute_names(self, entity_type: str, profile: str) -> list[str]:
        """Every attribute an entity of ``entity_type`` from ``profile`` may carry."""
        spec = self.profiles[profile]
        names = {"location", "name", "areaServed"}
        if entity_type == DEVICE_TYPE:
            names |= {"deviceState", "dateLastValueReported", *spec.fiware_device_attributes}
        else:
            model = models.MODELS.get(entity_type)
            names |= {"refDevice", *spec.fiware_attributes}
            names.add(model.observed if model else "dateObserved")
            if entity_type == models.AIR_QUALITY_OBSERVED.type:
                names.add("airQualityLevel")
            if entity_type == models.STREETLIGHT.type:
                names.add("status")
        names |= {t.attribute for t in self.targets[profile].values() if t.type == entity_type}
        return sorted(names)

    def metrics_of(self, entity_type: str, profile: str) -> dict[str, Target]:
        """Attribute -> target of the metrics that land on ``entity_type``."""
        return {
            t.attribute: t for t in self.targets.get(profile, {}).values() if t.type == entity_type
        }

    def entities(self, device: DeviceSnapshot) -> list[Entity]:
        """The observed entity and the Device entity of ``device`` (normalized form)."""
        profile = self.profiles.get(device.profile)
        if profile is None or profile.fiware_type is None:
            return []
        return [self.observed(device, profile), self.device(device, profile)]

    def entity(self, device: DeviceSnapshot, entity_type: str) -> Entity | None:
        for entity in self.entities(device):
            if entity["type"] == entity_type:
                return entity
        return None

    def observed(self, device: DeviceSnapshot, profile: Profile) -> Entity:
        assert profile.fiware_type is not None
        kind = profile.fiware_type
        model = models.MODELS.get(kind)
        entity: Entity = {"id": entity_id(kind, device.device_id), "type": kind}
        self._common(entity, device)
        for attr, value in profile.fiware_attributes.items():
            entity[attr] = _prop(list(value) if isinstance(value, tuple) else value)
        self._metrics(entity, device, kind)
        observed_at = device.observed_at
        if observed_at is not None:
            entity[model.observed if model else "dateObserved"] = _prop(iso(observed_at))
        if kind == models.AIR_QUALITY_OBSERVED.type and device.air_quality is not None:
            level, hour = device.air_quality
            entity["airQualityLevel"] = _prop(level, observedAt=iso(hour))
        if kind == models.STREETLIGHT.type:
            faults = [
                STREETLIGHT_FAULTS[r] for r in sorted(device.open_rules) if r in STREETLIGHT_FAULTS
            ]
            entity["status"] = _prop(faults[0] if faults else "ok")
        ref = entity_id(DEVICE_TYPE, device.device_id)
        listed = model is not None and models.is_list(model, "refDevice")
        entity["refDevice"] = {"type": "Relationship", "object": [ref] if listed else ref}
        return entity

    def device(self, device: DeviceSnapshot, profile: Profile) -> Entity:
        entity: Entity = {"id": entity_id(DEVICE_TYPE, device.device_id), "type": DEVICE_TYPE}
        self._common(entity, device)
        for attr, value in profile.fiware_device_attributes.items():
            entity[attr] = _prop(list(value) if isinstance(value, tuple) else value)
        self._metrics(entity, device, DEVICE_TYPE)
        entity["deviceState"] = _prop(device.status)
        reported = device.observed_at or device.last_seen
        if reported is not None:
            entity["dateLastValueReported"] = _prop(iso(reported))
        return entity

    def _common(self, entity: Entity, device: DeviceSnapshot) -> None:
        if device.name:
            entity["name"] = _prop(device.name)
        if device.district:
            entity["areaServed"] = _prop(device.district)
        if device.lat is not None and device.lon is not None:
            entity["location"] = {
                "type": "GeoProperty",
                "value": {"type": "Point", "coordinates": [device.lon, device.lat]},
            }

    def _metrics(self, entity: Entity, device: DeviceSnapshot, kind: str) -> None:
        for name, target in self.targets[device.profile].items():
            if target.type != kind or name not in device.values:
                continue
            seen = device.values[name]
            entity[target.attribute] = _prop(
                target.convert(seen.value), observedAt=iso(seen.time), unitCode=target.unit_code
            )


# --- representations -------------------------------------------------------------

_CORE: Final = frozenset({"id", "type", "@context"})


def key_values(entity: Entity) -> Entity:
    """The simplified form: each attribute is its value (a relationship its object)."""
    out: Entity = {}
    for name, attr in entity.items():
        if name in _CORE:
            out[name] = attr
        elif attr.get("type") == "Relationship":
            out[name] = attr["object"]
        else:
            out[name] = attr.get("value")
    return out


def concise(entity: Entity) -> Entity:
    """The concise form: no ``type`` members, a bare value where nothing else is said."""
    out: Entity = {}
    for name, attr in entity.items():
        if name in _CORE:
            out[name] = attr
            continue
        kind = attr.get("type")
        rest = {k: v for k, v in attr.items() if k != "type"}
        if (kind == "GeoProperty" and set(rest) == {"value"}) or (
            kind == "Property" and set(rest) == {"value"} and not isinstance(rest["value"], dict)
        ):
            out[name] = rest["value"]
        else:
            out[name] = rest
    return out


def project(entity: Entity, attrs: Iterable[str] | None) -> Entity:
    """Only ``attrs`` (and id, type)."""
    if attrs is None:
        return entity
    wanted = set(attrs)
    return {k: v for k, v in entity.items() if k in _CORE or k in wanted}
