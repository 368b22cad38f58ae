"""Device profiles: the shipped files validate, and every kind of mistake is named."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.errors import ProfileError
from hub.profiles import KNOWN_UNITS, Profile, load_profile, load_profiles

REPO = Path(__file__).resolve().parents[2]
PROFILES_DIR = REPO / "device_profiles"
SHIPPED = sorted(PROFILES_DIR.glob("*.yaml"))


def _base() -> dict[str, Any]:
    return {
        "name": "bin",
        "description": "A test device.",
        "expected_interval_s": 600,
        "metrics": {
            "fill": {
                "unit": "%",
                "type": "int",
                "min": 0,
                "max": 100,
                "description": "Fill level.",
            },
            "battery": {"unit": "%EL", "description": "Battery.", "min": 0, "max": 100},
        },
        "alert_rules": [
            {"name": "full", "kind": "threshold", "metric": "fill", "parameters": {"above": 90}}
        ],
    }


def _write(directory: Path, data: dict[str, Any], stem: str = "bin") -> Path:
    path = directory / f"{stem}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_profile_validates(path: Path) -> None:
    profile = load_profile(path)
    assert profile.name == path.stem
    assert profile.metrics
    assert all(m.unit in KNOWN_UNITS for m in profile.metrics.values())


def test_shipped_profiles_cover_the_three_device_types() -> None:
    profiles = load_profiles(PROFILES_DIR)
    assert {"street_light", "water_meter", "air_quality"} <= profiles.keys()


@pytest.mark.parametrize(
    ("profile", "metric", "unit"),
    [
        ("street_light", "power", "W"),
        ("street_light", "energy", "kWh"),
        ("street_light", "dim_level", "%"),
        ("water_meter", "volume", "m3"),
        ("water_meter", "flow", "l/h"),
        ("water_meter", "battery", "%EL"),
        ("air_quality", "pm10", "ug/m3"),
        ("air_quality", "pm25", "ug/m3"),
        ("air_quality", "no2", "ug/m3"),
        ("air_quality", "o3", "ug/m3"),
        ("air_quality", "humidity", "%RH"),
    ],
)
def test_shipped_metric_uses_real_world_unit(profile: str, metric: str, unit: str) -> None:
    assert load_profiles(PROFILES_DIR)[profile].metrics[metric].unit == unit


def test_shipped_counters_are_the_cumulative_registers() -> None:
    profiles = load_profiles(PROFILES_DIR)
    counters = {
        (p.name, m.name)
        for p in profiles.values()
        for m in p.metrics.values()
        if m.kind == "counter"
    }
    assert counters == {("street_light", "energy"), ("water_meter", "volume")}


def test_valid_profile_loads_with_defaults(tmp_path: Path) -> None:
    profile = load_profile(_write(tmp_path, _base()))
    assert isinstance(profile, Profile)
    assert profile.offline_factor == 3.0
    assert profile.receive_time_fallback is False
    assert profile.metrics["fill"].name == "fill"
    assert profile.metrics["battery"].kind == "gauge"
    assert profile.offline_after_s == 1800


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        del node[last]

    return mutate


MISTAKES = [
    # (what, mutation, field, message fragment)
    ("typo_in_metric_key", _set("metrics.fill.mni", 0), "metrics.fill.mni", "did you mean 'min'"),
    ("typo_top_level", _set("expected_interval", 60), "expected_interval", "unknown key"),
    ("min_above_max", _set("metrics.fill.min", 200), "metrics.fill.min", "greater than max"),
    ("unknown_unit", _set("metrics.fill.unit", "percent"), "metrics.fill.unit", "unknown unit"),
    ("lowercase_unit", _set("metrics.battery.unit", "%el"), "metrics.battery.unit", "'%EL'"),
    ("bad_type", _set("metrics.fill.type", "integer"), "metrics.fill.type", "must be"),
    ("bad_kind", _set("metrics.fill.kind", "total"), "metrics.fill.kind", "must be"),
    ("min_as_string", _set("metrics.fill.min", "0"), "metrics.fill.min", "valid number"),
    ("missing_description", _drop("metrics.fill.description"), "metrics.fill.description", "required"),
    ("missing_interval", _drop("expected_interval_s"), "expected_interval_s", "required"),
    ("zero_interval", _set("expected_interval_s", 0), "expected_interval_s", "greater than 0"),
    ("interval_as_float", _set("expected_interval_s", 1.5), "expected_interval_s", "integer"),
    ("no_metrics", _set("metrics", {}), "metrics", "at least 1"),
    ("bad_metric_name", _set("metrics.Fill", {"unit": "%", "description": "x"}), "metrics.Fill.name", "pattern"),
    ("reserved_metric_name", _set("metrics.ts", {"unit": "s", "description": "x"}), "metrics.ts", "reserved"),
    ("fallback_as_string", _set("receive_time_fallback", "yes please"), "receive_time_fallback", "boolean"),
    ("rule_unknown_metric", _set("alert_rules.0.metric", "level"), "alert_rules.0.metric", "not a metric"),
    ("rule_unknown_kind", _set("alert_rules.0.kind", "limit"), "alert_rules.0.kind", "must be"),
    ("rule_missing_bound", _set("alert_rules.0.parameters", {"for_s": 60}), "alert_rules.0.parameters", "above or below"),
    ("rule_unknown_parameter", _set("alert_rules.0.parameters", {"abve": 90}), "alert_rules.0.parameters.abve", "unknown parameter"),
    ("rule_parameter_as_text", _set("alert_rules.0.parameters", {"above": "90"}), "alert_rules.0.parameters.above", "a number"),
    ("rule_without_metric", _drop("alert_rules.0.metric"), "alert_rules.0.metric", "required"),
    ("rule_bad_severity", _set("alert_rules.0.severity", "high"), "alert_rules.0.severity", "must be"),
    ("rule_typo_key", _set("alert_rules.0.parameter", {}), "alert_rules.0.parameter", "did you mean 'parameters'"),
    ("duplicate_rule_name", _set("alert_rules.1", {"name": "full", "kind": "stale"}), "alert_rules.1.name", "used twice"),
    ("window_bad_aggregate", _set("alert_rules.0", {"name": "w", "kind": "window", "metric": "fill", "parameters": {"aggregate": "avg", "window_s": 3600, "above": 1}}), "alert_rules.0.parameters.aggregate", "mean"),
    ("domain_bad_check", _set("alert_rules.0", {"name": "d", "kind": "domain", "metric": "fill", "parameters": {"check": "overflow"}}), "alert_rules.0.parameters.check", "night_flow"),
    ("simulation_unknown_metric", _set("simulation", {"metrics": {"level": {"baseline": 1}}}), "simulation.metrics.level", "lacks"),
    ("simulation_bad_model", _set("simulation", {"model": "bin"}), "simulation.model", "must be"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("what", "mutate", "field", "fragment"), MISTAKES, ids=[m[0] for m in MISTAKES]
)
def test_profile_mistake_names_file_field_and_problem(
    tmp_path: Path,
    what: str,
    mutate: Callable[[dict[str, Any]], None],
    field: str,
    fragment: str,
) -> None:
    data = copy.deepcopy(_base())
    data["alert_rules"].append({"name": "gone", "kind": "stale"})
    mutate(data)
    path = _write(tmp_path, data)
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert info.value.file == str(path)
    assert info.value.field == field
    assert fragment in info.value.message
    assert str(path) in str(info.value)


def test_counter_of_type_bool_is_refused(tmp_path: Path) -> None:
    data = _base()
    data["metrics"]["door"] = {"unit": "1", "type": "bool", "kind": "counter", "description": "x"}
    with pytest.raises(ProfileError) as info:
        load_profile(_write(tmp_path, data))
    assert info.value.field == "metrics.door.kind"


def test_name_must_equal_file_stem(tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as info:
        load_profile(_write(tmp_path, _base(), stem="waste_bin"))
    assert info.value.field == "name"
    assert "waste_bin" in info.value.message


def test_duplicate_yaml_key_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bin.yaml"
    path.write_text(
        "name: bin\ndescription: x\nexpected_interval_s: 60\nmetrics:\n"
        "  fill: {unit: '%', description: a}\n"
        "  fill: {unit: '%', description: b}\n",
        encoding="utf-8",
    )
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert info.value.field == "line 6"
    assert "duplicate key 'fill'" in info.value.message


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("name: [unclosed\n", "line 2"),
        ("- just\n- a list\n", "(file)"),
        ("", "(file)"),
    ],
    ids=["broken_yaml", "not_a_mapping", "empty_file"],
)
def test_unreadable_profile_file_is_refused(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "bin.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert info.value.field == field


def test_same_profile_in_yaml_and_yml_is_a_duplicate(tmp_path: Path) -> None:
    _write(tmp_path, _base())
    (tmp_path / "bin.yml").write_text(yaml.safe_dump(_base()), encoding="utf-8")
    with pytest.raises(ProfileError, match="defined twice"):
        load_profiles(tmp_path)


def test_directory_without_profiles_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="no"):
        load_profiles(tmp_path)
    with pytest.raises(ProfileError, match="not a directory"):
        load_profiles(tmp_path / "missing")


def test_load_profiles_stops_at_first_bad_file(tmp_path: Path) -> None:
    _write(tmp_path, _base())
    bad = _base()
    bad["name"] = "zz"
    bad["metrics"]["fill"]["max"] = -1
    _write(tmp_path, bad, stem="zz")
    with pytest.raises(ProfileError) as info:
        load_profiles(tmp_path)
    assert info.value.file.endswith("zz.yaml")
    assert info.value.field == "metrics.fill.min"


def test_profiles_are_immutable() -> None:
    profile = load_profiles(PROFILES_DIR)["street_light"]
    with pytest.raises(ValueError, match="frozen"):
        profile.expected_interval_s = 1  # type: ignore[misc]


def test_waste_bin_example_in_docs_validates(tmp_path: Path) -> None:
    doc = (REPO / "docs" / "device-profiles.md").read_text(encoding="utf-8")
    match = re.search(r"```yaml\n(# device_profiles/waste_bin\.yaml\n.*?)```", doc, re.S)
    assert match, "the worked example is missing from docs/device-profiles.md"
    (tmp_path / "waste_bin.yaml").write_text(match.group(1), encoding="utf-8")
    profile = load_profiles(tmp_path)["waste_bin"]
    assert "fill_level" in profile.metrics
    assert profile.offline_after_s == 6 * 3600
