"""Unit conversions (hub/model/units.py): the table, known units only, round trips."""

from __future__ import annotations

import pytest

from hub.model.units import UNIT_CONVERSIONS, convert
from hub.profiles import KNOWN_UNITS


@pytest.mark.parametrize(
    ("value", "unit", "target", "expected"),
    [
        (1500, "Wh", "kWh", 1.5),
        (2, "kWh", "Wh", 2000),
        (0.25, "kW", "W", 250),
        (1, "m3/h", "l/h", 1000),
        (0.5, "l/s", "l/h", 1800),
        (2, "l/min", "l/h", 120),
        (1e-6, "m3/s", "l/h", 3.6),
        (1500, "l", "m3", 1.5),
        (273.15, "K", "Cel", 0),
        (20, "Cel", "K", 293.15),
        (0.05, "mg/m3", "ug/m3", 50),
        (0.42, "/", "%RH", 42),
        (0.9, "/", "%EL", 90),
        (1013.25, "hPa", "Pa", 101325),
        (5, "W", "W", 5),
    ],
)
def test_unit_conversion_table(value: float, unit: str, target: str, expected: float) -> None:
    assert convert(value, unit, target) == pytest.approx(expected)


def test_unit_conversion_table_uses_known_units_only() -> None:
    for unit, target in UNIT_CONVERSIONS:
        assert unit in KNOWN_UNITS
        assert target in KNOWN_UNITS


@pytest.mark.parametrize(("unit", "target"), list(UNIT_CONVERSIONS))
def test_unit_conversion_round_trips_where_reverse_exists(unit: str, target: str) -> None:
    if (target, unit) in UNIT_CONVERSIONS:
        assert convert(convert(12.5, unit, target), target, unit) == pytest.approx(12.5)
