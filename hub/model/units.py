"""Unit conversions a SenML record may ask for (``docs/payloads.md#units``).

Unit names are SenML's (RFC 8428 section 12.1, and the hub's ``KNOWN_UNITS``).
"""

from __future__ import annotations

# (from unit, to unit) -> (factor, offset): to = from * factor + offset.
UNIT_CONVERSIONS: dict[tuple[str, str], tuple[float, float]] = {
    ("kWh", "Wh"): (1000.0, 0.0),
    ("Wh", "kWh"): (0.001, 0.0),
    ("kW", "W"): (1000.0, 0.0),
    ("W", "kW"): (0.001, 0.0),
    ("mV", "V"): (0.001, 0.0),
    ("V", "mV"): (1000.0, 0.0),
    ("mA", "A"): (0.001, 0.0),
    ("A", "mA"): (1000.0, 0.0),
    ("l", "m3"): (0.001, 0.0),
    ("m3", "l"): (1000.0, 0.0),
    ("m3/s", "l/h"): (3_600_000.0, 0.0),
    ("m3/h", "l/h"): (1000.0, 0.0),
    ("l/s", "l/h"): (3600.0, 0.0),
    ("l/min", "l/h"): (60.0, 0.0),
    ("l/h", "m3/h"): (0.001, 0.0),
    ("K", "Cel"): (1.0, -273.15),
    ("Cel", "K"): (1.0, 273.15),
    ("mg/m3", "ug/m3"): (1000.0, 0.0),
    ("Pa", "hPa"): (0.01, 0.0),
    ("hPa", "Pa"): (100.0, 0.0),
    ("kPa", "hPa"): (10.0, 0.0),
    ("bar", "hPa"): (1000.0, 0.0),
    ("/", "%"): (100.0, 0.0),
    ("/", "%RH"): (100.0, 0.0),
    ("/", "%EL"): (100.0, 0.0),
    ("%", "%RH"): (1.0, 0.0),
    ("%", "%EL"): (1.0, 0.0),
}


def convert(value: float, unit: str, target: str) -> float | None:
    """``value`` in ``unit`` expressed in ``target``; None if the table cannot."""
    if unit == target:
        return value
    conversion = UNIT_CONVERSIONS.get((unit, target))
    if conversion is None:
        return None
    factor, offset = conversion
    return value * factor + offset
