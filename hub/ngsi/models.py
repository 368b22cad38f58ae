"""The Smart Data Models the hub publishes, as far as the hub uses them.

Written from the published JSON Schemas (``schema.json`` of each model in the
smart-data-models GitHub organisation, which describe the key-values form of an
entity): for each entity type the attributes the hub may produce, with the JSON
type and bounds the schema gives them, and the attributes the schema requires.
The mapping (:mod:`hub.ngsi.mapping`) coerces values to these types, and the
tests check produced entities against the published schema when it can be
fetched, and against this table otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

# A schema fragment: the JSON Schema keywords the hub relies on.
Fragment = dict[str, Any]

CORE_CONTEXT: Final = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"

_DATE_TIME: Final[Fragment] = {"type": "string", "format": "date-time"}
_TEXT: Final[Fragment] = {"type": "string"}
_NUMBER: Final[Fragment] = {"type": "number"}
_POSITIVE: Final[Fragment] = {"type": "number", "minimum": 0}
_RATIO: Final[Fragment] = {"type": "number", "minimum": 0, "maximum": 1}
_ENTITY_ID: Final[Fragment] = {"type": "string", "minLength": 1}
_POINT: Final[Fragment] = {
    "type": "object",
    "required": ["type", "coordinates"],
    "properties": {
        "type": {"type": "string", "enum": ["Point"]},
        "coordinates": {"type": "array", "minItems": 2, "items": {"type": "number"}},
    },
}

# GSMA-Commons and Location-Commons of common-schema.json: shared by every model.
_COMMONS: Final[dict[str, Fragment]] = {
    "id": _ENTITY_ID,
    "dateCreated": _DATE_TIME,
    "dateModified": _DATE_TIME,
    "source": _TEXT,
    "name": _TEXT,
    "description": _TEXT,
    "dataProvider": _TEXT,
    "owner": {"type": "array", "items": _ENTITY_ID},
    "location": _POINT,
    "areaServed": _TEXT,
}


@dataclass(frozen=True, slots=True)
class Model:
    """One entity type: its attributes (key-values form) and where it is published."""

    type: str
    domain: str  # the smart-data-models repository (dataModel.X)
    attributes: dict[str, Fragment]
    required: tuple[str, ...]
    observed: str  # the attribute that carries the time of the latest observation

    @property
    def schema_url(self) -> str:
        return f"https://smart-data-models.github.io/{self.domain}/{self.type}/schema.json"

    @property
    def context_url(self) -> str:
        return f"https://raw.githubusercontent.com/smart-data-models/{self.domain}/master/context.jsonld"

    def namespace(self) -> str:
        return f"https://smartdatamodels.org/{self.domain}/"


AIR_QUALITY_OBSERVED: Final = Model(
    type="AirQualityObserved",
    domain="dataModel.Environment",
    attributes={
        **_COMMONS,
        "type": {"type": "string", "enum": ["AirQualityObserved"]},
        "dateObserved": _DATE_TIME,
        "airQualityLevel": {"type": "string", "minLength": 2},
        "airQualityIndex": {"type": "integer", "minimum": 0},
        "typeofLocation": {"type": "string", "enum": ["indoor", "outdoor"]},
        "refDevice": _ENTITY_ID,
        "pm1": _NUMBER,
        "pm10": _POSITIVE,
        "pm25": _POSITIVE,
        "no": _POSITIVE,
        "no2": _POSITIVE,
        "nox": _POSITIVE,
        "o3": _POSITIVE,
        "co": _POSITIVE,
        "co2": _POSITIVE,
        "so2": _POSITIVE,
        "temperature": _NUMBER,
        "relativeHumidity": _RATIO,
        "pressure": _POSITIVE,
        "precipitation": _POSITIVE,
        "windSpeed": _POSITIVE,
        "windDirection": {"type": "number", "minimum": -180, "maximum": 180},
    },
    required=("id", "type", "dateObserved", "location"),
    observed="dateObserved",
)

STREETLIGHT: Final = Model(
    type="Streetlight",
    domain="dataModel.Streetlighting",
    attributes={
        **_COMMONS,
        "type": {"type": "string", "enum": ["Streetlight"]},
        "status": {
            "type": "string",
            "enum": ["brokenLantern", "columnIssue", "defectiveLamp", "ok"],
        },
        "powerState": {"type": "string", "enum": ["bootingUp", "low", "off", "on"]},
        "illuminanceLevel": _RATIO,
        "powerConsumption": _NUMBER,
        "lifetimePowerConsumption": _NUMBER,
        "voltage": _NUMBER,
        "current": _NUMBER,
        "observationDateTime": _DATE_TIME,
        "dateLastSwitchingOn": _DATE_TIME,
        "dateLastSwitchingOff": _DATE_TIME,
        "controllingMethod": {"type": "string", "enum": ["group", "individual"]},
        "locationCategory": {
            "type": "string",
            "enum": [
                "bridge",
                "centralIsland",
                "facade",
                "garden",
                "park",
                "parking",
                "pedestrianPath",
                "playground",
                "road",
                "sidewalk",
                "tunnel",
            ],
        },
        "refDevice": {"type": "array", "items": _ENTITY_ID},
    },
    required=("id", "type", "location", "status"),
    observed="observationDateTime",
)

WATER_CONSUMPTION_OBSERVED: Final = Model(
    type="WaterConsumptionObserved",
    domain="dataModel.WaterConsumption",
    attributes={
        **_COMMONS,
        "type": {"type": "string", "enum": ["WaterConsumptionObserved"]},
        # The schema: an integer, "the water meter reading ... Units: Cubic meters".
        "waterConsumption": {"type": "integer"},
        "maxFlow": {"type": "integer"},
        "minFlow": {"type": "integer"},
        "waterType": {"type": "string", "enum": ["hotWater", "serviceWater"]},
        "dateObserved": _DATE_TIME,
        "refDevice": _ENTITY_ID,
    },
    required=("id", "type"),
    observed="dateObserved",
)

_CONTROLLED_PROPERTIES: Final = [
    "airPollution",
    "atmosphericPressure",
    "batteryLife",
    "batterySupply",
    "electricityConsumption",
    "energy",
    "humidity",
    "light",
    "location",
    "power",
    "precipitation",
    "pressure",
    "temperature",
    "waterConsumption",
    "waterFlow",
    "waterLevel",
    "waterPollution",
    "weatherConditions",
    "windDirection",
    "windSpeed",
]

DEVICE: Final = Model(
    type="Device",
    domain="dataModel.Device",
    attributes={
        **_COMMONS,
        "type": {"type": "string", "enum": ["Device"]},
        "category": {
            "type": "array",
            "items": {"type": "string", "enum": ["actuator", "meter", "network", "sensor"]},
        },
        "controlledProperty": {
            "type": "array",
            "items": {"type": "string", "enum": _CONTROLLED_PROPERTIES},
        },
        "supportedProtocol": {
            "type": "array",
            "items": {"type": "string", "enum": ["http", "lora", "mqtt", "nb-iot"]},
        },
        "batteryLevel": {
            "oneOf": [
                {"type": "number", "minimum": 0, "maximum": 1},
                {"type": "number", "minimum": -1, "maximum": -1},
            ]
        },
        "rssi": _NUMBER,
        "deviceState": _TEXT,
        "dateLastValueReported": _DATE_TIME,
        "dateObserved": _DATE_TIME,
        "dateInstalled": _DATE_TIME,
        "serialNumber": _TEXT,
    },
    required=("id", "type", "controlledProperty"),
    observed="dateLastValueReported",
)

MODELS: Final[dict[str, Model]] = {
    m.type: m for m in (AIR_QUALITY_OBSERVED, STREETLIGHT, WATER_CONSUMPTION_OBSERVED, DEVICE)
}

# Attributes of the device itself rather than of what it observes: they go on the
# Device entity even when a profile names them for a metric.
DEVICE_ATTRIBUTES: Final = frozenset({"batteryLevel", "rssi"})


def json_schema(model: Model) -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) of the key-values form, from the table."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": model.attributes,
        "required": list(model.required),
    }


def is_integer(model: Model, attribute: str) -> bool:
    return model.attributes.get(attribute, {}).get("type") == "integer"


def is_ratio(model: Model, attribute: str) -> bool:
    """A number the schema bounds to 0-1 (the hub's percentages are divided by 100)."""
    fragment = model.attributes.get(attribute, {})
    if "oneOf" in fragment:
        fragment = fragment["oneOf"][0]
    return fragment.get("maximum") == 1 and fragment.get("minimum") == 0


def is_list(model: Model, attribute: str) -> bool:
    return model.attributes.get(attribute, {}).get("type") == "array"
