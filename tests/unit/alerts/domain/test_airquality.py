"""Air quality: the four Norwegian hourly classes and the hourly NO2 limit value."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub.alerts.domain.airquality import classify, classify_hour, hourly_limit
from hub.model import Rule

HOUR = datetime(2026, 1, 12, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    ("pollutant", "value", "name"),
    [
        ("no2", 80, "low"),
        ("no2", 100, "low"),
        ("no2", 150, "moderate"),
        ("no2", 250, "high"),
        ("no2", 401, "very_high"),
        ("pm10", 60, "low"),
        ("pm10", 61, "moderate"),
        ("pm10", 130, "high"),
        ("pm25", 55, "high"),
        ("pm25", 151, "very_high"),
        ("o3", 181, "high"),
    ],
)
def test_hourly_class_of_one_pollutant(pollutant: str, value: float, name: str) -> None:
    assert classify(pollutant, value) == name


def test_monitor_class_is_its_worst_pollutant() -> None:
    hour = classify_hour(HOUR, {"no2": 120.0, "pm10": 30.0, "pm25": 10.0, "temperature": -5})
    assert hour is not None
    assert hour.name == "moderate"
    assert hour.pollutants == {"no2": "moderate", "pm10": "low", "pm25": "low"}
    assert classify_hour(HOUR, {"temperature": -5}) is None


def test_no2_hourly_mean_above_200_is_a_limit_exceedance() -> None:
    rule = Rule(1, "no2_hourly_limit", "domain", "air_quality", "no2", None, None,
                {"check": "hourly_limit", "above": 200, "allowed_per_year": 18}, "critical",
                None, True, "api", HOUR, HOUR)  # fmt: skip
    verdict = hourly_limit(rule, hour=HOUR, mean=231.4, count=12, exceedances_this_year=3)
    assert verdict.firing is True
    assert "3 hour(s) above it this year, 18 allowed" in verdict.message
    verdict = hourly_limit(rule, hour=HOUR, mean=199.0, count=12, exceedances_this_year=3)
    assert verdict.firing is False
