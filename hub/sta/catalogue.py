"""Sensors, ObservedProperties and units of measurement, from the device profiles.

A Sensor is a device profile; its ``metadata`` links to the profile document of
the hub's own API. An ObservedProperty is a metric name; its ``definition`` is
the Smart Data Models attribute the profile names (``fiware``) where the
profile's data model is known, else the metric's entry in the profile document.
Units are given as UCUM codes with an OGC definition URI.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson

from hub.profiles import KNOWN_UNITS, Profile
from hub.store.sta_statement import catalogue_params

# Smart Data Models subject of each profile data model (fiware_type).
SDM_SUBJECTS = {
    "AirQualityObserved": "dataModel.Environment",
    "WaterConsumptionObserved": "dataModel.WaterConsumption",
    "Streetlight": "dataModel.Streetlighting",
}

# SenML/profile unit code -> UCUM code, where the two differ.
UCUM = {
    "%RH": "%",
    "%EL": "%",
    "/": "1",
    "l": "L",
    "l/s": "L/s",
    "l/min": "L/min",
    "l/h": "L/h",
    "kWh": "kW.h",
    "Wh": "W.h",
    "count": "{count}",
    "dB": "dB",
    "dBm": "dB[mW]",
}
UCUM_DEFINITION = "http://www.opengis.net/def/uom/UCUM/0/"


def unit_of_measurement(unit: str) -> tuple[str, str, str]:
    """(name, symbol, definition) of a profile unit."""
    code = UCUM.get(unit, unit)
    return KNOWN_UNITS.get(unit, unit), unit, UCUM_DEFINITION + quote(code, safe="")


def build(profiles: dict[str, Profile], base: str) -> dict[str, Any]:
    """The catalogue parameters for every STA query (``base`` is the hub's URL)."""
    sensors: list[tuple[str, str, str, str]] = []
    metrics: list[tuple[str, str, str, str, str, str, str, str]] = []
    for name in sorted(profiles):
        profile = profiles[name]
        document = f"{base}/api/v1/profiles/{quote(name)}"
        sensors.append((name, name, profile.description.strip(), document))
        subject = SDM_SUBJECTS.get(profile.fiware_type or "")
        for metric_name in sorted(profile.metrics):
            metric = profile.metrics[metric_name]
            unit_name, symbol, definition = unit_of_measurement(metric.unit)
            if subject and metric.fiware:
                concept = f"https://smartdatamodels.org/{subject}/{metric.fiware}"
            else:
                concept = f"{document}#metrics.{metric_name}"
            properties = {"profile": name, "kind": metric.kind, "type": metric.type}
            if metric.fiware:
                properties["smartDataModelsAttribute"] = metric.fiware
            metrics.append(
                (
                    name,
                    metric_name,
                    " ".join(metric.description.split()),
                    unit_name,
                    symbol,
                    definition,
                    concept,
                    orjson.dumps(properties).decode(),
                )
            )
    return catalogue_params(sensors, metrics)
