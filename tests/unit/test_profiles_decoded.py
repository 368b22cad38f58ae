"""The ``decoded:`` section of a profile: a network server's decoded payload mapped
onto the profile's metrics, checked when the profile loads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.errors import ProfileError
from hub.profiles import load_profile, load_profiles
from tests.repo import REPO


def _profile(decoded: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "meter",
        "description": "A test meter.",
        "expected_interval_s": 600,
        "metrics": {
            "volume": {"unit": "m3", "description": "Register.", "kind": "counter"},
            "valve_open": {"unit": "1", "type": "bool", "description": "Valve."},
        },
        "decoded": decoded,
    }


def _load(tmp_path: Path, decoded: dict[str, Any]) -> Any:
    path = tmp_path / "meter.yaml"
    path.write_text(yaml.safe_dump(_profile(decoded), sort_keys=False), encoding="utf-8")
    return load_profile(path)


def test_short_and_long_field_forms_load(tmp_path: Path) -> None:
    profile = _load(
        tmp_path,
        {
            "time": "meta.time",
            "fields": {
                "volume_l": {"metric": "volume", "unit": "l"},
                "valve": {"metric": "valve_open", "values": {"open": 1, "closed": 0}},
                "reg.value": "volume",
            },
        },
    )
    fields = profile.decoded.fields
    assert fields["reg.value"].metric == "volume"
    assert fields["reg.value"].scale == 1.0
    assert fields["volume_l"].unit == "l"
    assert fields["valve"].values == {"open": 1, "closed": 0}
    assert profile.decoded.time == "meta.time"


@pytest.mark.parametrize(
    ("decoded", "field", "message"),
    [
        ({"fields": {"x": "nope"}}, "decoded.fields.x.metric", "not a metric"),
        (
            {"fields": {"x": {"metric": "volume", "unit": "W"}}},
            "decoded.fields.x.unit",
            "cannot convert",
        ),
        (
            {"fields": {"x": {"metric": "volume", "unit": "gallon"}}},
            "decoded.fields.x.unit",
            "unknown unit",
        ),
        ({"fields": {"a..b": "volume"}}, "decoded.fields.a..b", "dotted path"),
        (
            {"fields": {"x": {"metric": "volume", "scale": 0.0}}},
            "decoded.fields.x.scale",
            "not be 0",
        ),
        ({"fields": {}}, "decoded.fields", ""),
        ({"fields": {"x": "volume"}, "tme": "t"}, "decoded.tme", "did you mean 'time'"),
    ],
)
def test_mistakes_in_the_mapping_name_the_field(
    tmp_path: Path, decoded: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ProfileError) as caught:
        _load(tmp_path, decoded)
    assert caught.value.field == field
    assert message in caught.value.message


def test_shipped_profiles_map_a_real_device_and_report_link_quality() -> None:
    profiles = load_profiles(REPO / "device_profiles")
    for profile in profiles.values():
        assert profile.decoded is not None, profile.name
        for metric in ("lora_rssi", "lora_snr", "lora_gateways", "lora_sf", "lora_missed_frames"):
            assert metric in profile.metrics, (profile.name, metric)
        rules = {r.name: r for r in profile.alert_rules}
        assert rules["link_degraded"].metric == "lora_snr"
    assert profiles["water_meter"].decoded.fields["current_volume_m3"].metric == "volume"
    assert profiles["air_quality"].decoded.fields["pm10_mass_concentration.value"].metric == "pm10"
    assert profiles["street_light"].decoded.fields["power_consumption"].unit == "Wh"
