"""The mapping of the shipped profiles to Smart Data Models entities: names from
the models' attribute table, values converted to the models' types, the three
representations."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from jsonschema import Draft202012Validator

from hub.ngsi import mapping, models
from hub.ngsi.mapping import Mapper
from hub.ngsi.records import DeviceSnapshot, Observation
from hub.profiles import load_profiles
from tests.repo import REPO

PROFILES = load_profiles(REPO / "device_profiles")
MAPPER = Mapper(PROFILES)
T = datetime(2026, 1, 10, 6, 45, tzinfo=UTC)


def _snapshot(profile: str, values: dict[str, float], **extra: object) -> DeviceSnapshot:
    return DeviceSnapshot(
        id=1,
        device_id="d-1",
        profile=profile,
        name="Storgata",
        district="Sentrum",
        lat=59.91,
        lon=10.75,
        status="online",
        status_changed_at=None,
        registered_at=T,
        last_seen=T,
        decommissioned_at=None,
        values={m: Observation(T, v) for m, v in values.items()},
        **extra,  # type: ignore[arg-type]
    )


def test_every_fiware_name_of_the_shipped_profiles_is_an_attribute_of_its_model() -> None:
    for name, profile in PROFILES.items():
        assert profile.fiware_type in models.MODELS, name
        for target in MAPPER.targets[name].values():
            assert target.attribute in models.MODELS[target.type].attributes, (name, target)
        for attr in profile.fiware_attributes:
            assert attr in models.MODELS[profile.fiware_type].attributes
        for attr in profile.fiware_device_attributes:
            assert attr in models.DEVICE.attributes


@pytest.mark.parametrize(
    ("profile", "values", "entity_type", "expected"),
    [
        ("air_quality", {"humidity": 85.0}, "AirQualityObserved", {"relativeHumidity": 0.85}),
        ("air_quality", {"battery": 40}, "Device", {"batteryLevel": 0.4}),
        (
            "street_light",
            {"lamp_on": 1.0, "dim_level": 60},
            "Streetlight",
            {"powerState": "on", "illuminanceLevel": 0.6},
        ),
        ("street_light", {"lamp_on": 0.0}, "Streetlight", {"powerState": "off", "status": "ok"}),
        (
            "water_meter",
            {"volume": 1234.987},
            "WaterConsumptionObserved",
            {"waterConsumption": 1234},
        ),
    ],
)
def test_values_take_the_models_types(
    profile: str, values: dict[str, float], entity_type: str, expected: dict[str, object]
) -> None:
    entity = MAPPER.entity(_snapshot(profile, values), entity_type)
    assert entity is not None
    kv = mapping.key_values(entity)
    for name, value in expected.items():
        assert kv[name] == value
        assert type(kv[name]) is type(value)


def test_an_open_lamp_outage_marks_the_lamp_defective() -> None:
    entity = MAPPER.entity(
        _snapshot("street_light", {"power": 0.0}, open_rules=frozenset({"lamp_outage"})),
        "Streetlight",
    )
    assert entity is not None and entity["status"]["value"] == "defectiveLamp"


def test_mapped_entities_validate_against_the_attribute_table() -> None:
    values = {
        "air_quality": {
            "pm10": 12.0,
            "pm25": 6.0,
            "no2": 30.0,
            "o3": 40.0,
            "temperature": -3.5,
            "humidity": 70.0,
            "battery": 90,
            "lora_rssi": -101.0,
        },
        "street_light": {
            "lamp_on": 1.0,
            "dim_level": 100,
            "power": 40.0,
            "energy": 10.5,
            "voltage": 231.0,
        },
        "water_meter": {"volume": 12.5, "flow": 3.0, "temperature": 8.0, "battery": 99},
    }
    for profile, readings in values.items():
        snapshot = _snapshot(profile, readings, air_quality=("low", T))
        for entity in MAPPER.entities(snapshot):
            model = models.MODELS[entity["type"]]
            Draft202012Validator(models.json_schema(model)).validate(mapping.key_values(entity))


def test_concise_form_drops_types_and_keeps_sub_attributes() -> None:
    entity = MAPPER.entity(_snapshot("air_quality", {"pm10": 12.0}), "AirQualityObserved")
    assert entity is not None
    concise = mapping.concise(entity)
    assert concise["pm10"] == {
        "value": 12.0,
        "observedAt": "2026-01-10T06:45:00Z",
        "unitCode": "GQ",
    }
    assert concise["name"] == "Storgata"
    assert concise["location"] == {"type": "Point", "coordinates": [10.75, 59.91]}
    assert concise["refDevice"] == {"object": "urn:ngsi-ld:Device:d-1"}


def test_entity_ids_split_back_into_type_and_device() -> None:
    assert mapping.split_id("urn:ngsi-ld:Device:aq-0001:x") == ("Device", "aq-0001:x")
    assert mapping.split_id("urn:other:Device:x") is None
    assert mapping.split_id("urn:ngsi-ld:Device:") is None
