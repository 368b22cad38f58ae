"""Rule specifications: what is accepted, and what is refused with which field."""

from __future__ import annotations

from typing import Any

import pytest

from hub.alerts.params import check_against_profiles
from hub.errors import RuleSpecError
from hub.model import RuleSpec
from hub.profiles import load_profiles
from tests.repo import REPO

PROFILES = load_profiles(REPO / "device_profiles")

VALID: list[dict[str, Any]] = [
    {"kind": "threshold", "metric": "flow", "parameters": {"above": 3000, "for_s": 900}},
    {"kind": "threshold", "metric": "flow", "parameters": {"below": -1, "hysteresis": 0.5}},
    {"kind": "rate_of_change", "metric": "flow", "parameters": {"max_rise_per_h": 100}},
    {"kind": "stale", "metric": None, "parameters": {}},
    {"kind": "stale", "metric": None, "parameters": {"factor": 2}},
    {
        "kind": "window",
        "metric": "flow",
        "parameters": {"aggregate": "mean", "local_day": True, "above": 50},
    },
    {
        "kind": "window",
        "metric": "flow",
        "parameters": {"aggregate": "max", "window_s": 3600, "below": 1},
    },
    {"kind": "domain", "metric": "flow", "parameters": {"check": "night_flow", "nights": 3}},
    {"kind": "domain", "metric": "volume", "parameters": {"check": "register_backflow"}},
]

INVALID: list[tuple[dict[str, Any], str]] = [
    ({"kind": "threshold", "metric": "flow", "parameters": {}}, "parameters"),
    ({"kind": "threshold", "metric": None, "parameters": {"above": 1}}, "metric"),
    ({"kind": "threshold", "metric": "flow", "parameters": {"above": "high"}}, "parameters.above"),
    ({"kind": "threshold", "metric": "flow", "parameters": {"above": True}}, "parameters.above"),
    ({"kind": "threshold", "metric": "flow", "parameters": {"above": 1, "for_s": -5}}, "parameters.for_s"),
    ({"kind": "threshold", "metric": "flow", "parameters": {"above": 1, "below": 2}}, "parameters.below"),
    ({"kind": "threshold", "metric": "flow", "parameters": {"above": 1, "abvoe": 2}}, "parameters.abvoe"),
    ({"kind": "window", "metric": "flow", "parameters": {"aggregate": "mean", "above": 1}}, "parameters"),
    ({"kind": "window", "metric": "flow", "parameters": {"aggregate": "median", "window_s": 60, "above": 1}}, "parameters.aggregate"),
    ({"kind": "stale", "metric": None, "parameters": {"factor": 0.5}}, "parameters.factor"),
    ({"kind": "domain", "metric": "flow", "parameters": {"check": "magic"}}, "parameters.check"),
    ({"kind": "domain", "metric": "flow", "parameters": {"check": "night_flow", "nights": 0}}, "parameters.nights"),
    ({"kind": "domain", "metric": "flow", "parameters": {"check": "night_flow", "start_hour": 24}}, "parameters.start_hour"),
    ({"kind": "domain", "metric": "no2", "parameters": {"check": "hourly_limit"}}, "parameters"),
    ({"kind": "sometimes", "metric": "flow", "parameters": {}}, "kind"),
    ({"kind": "threshold", "metric": "flow", "device_id": "a", "district": "b", "parameters": {"above": 1}}, "district"),
    ({"name": "", "kind": "stale", "metric": None}, "name"),
]  # fmt: skip


@pytest.mark.parametrize("fields", VALID)
def test_valid_rule_specs_are_accepted(fields: dict[str, Any]) -> None:
    spec = RuleSpec(name="r", profile="water_meter", **fields)
    check_against_profiles(spec, PROFILES)


@pytest.mark.parametrize(("fields", "field"), INVALID)
def test_invalid_rule_spec_names_the_field(fields: dict[str, Any], field: str) -> None:
    values = {"name": "r", "profile": "water_meter", **fields}
    with pytest.raises(RuleSpecError) as caught:
        RuleSpec(**values)
    assert caught.value.field == field


def test_every_shipped_profile_default_is_a_valid_spec() -> None:
    for profile in PROFILES.values():
        for rule in profile.alert_rules:
            spec = RuleSpec(
                rule.name, rule.kind, profile.name, rule.metric, parameters=dict(rule.parameters)
            )
            check_against_profiles(spec, PROFILES)


@pytest.mark.parametrize(
    ("profile", "metric", "field"),
    [("gas_meter", "flow", "profile"), ("water_meter", "power", "metric")],
)
def test_rule_for_unknown_profile_or_metric_is_refused(
    profile: str, metric: str, field: str
) -> None:
    spec = RuleSpec("r", "threshold", profile, metric, parameters={"above": 1})
    with pytest.raises(RuleSpecError) as caught:
        check_against_profiles(spec, PROFILES)
    assert caught.value.field == field
