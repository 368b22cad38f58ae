"""Air quality: the Norwegian hourly pollution classes and the legal limit values.

Classes (``low``, ``moderate``, ``high``, ``very_high``; in Norwegian lite,
moderat, høy, svært høy) are those of the national air-quality warning service
(luftkvalitet.info / Luftkvalitet i Norge, set by the Norwegian Public Roads
Administration, the Directorate of Health, the Institute of Public Health and
the Environment Agency), applied to hourly means in ug/m3. The upper bound of
each class is inclusive.

Limit values (forurensningsforskriften, chapter 7): the hourly mean of NO2 may
exceed 200 ug/m3 at most 18 hours in a calendar year; the daily mean of PM10 may
exceed 50 ug/m3 at most 30 days a year. An ``hourly_limit`` rule judges the last
complete clock hour; the daily PM10 limit is a ``window`` rule over the local day.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from hub.alerts.conditions import Verdict
from hub.model import Rule

CLASS_NAMES: Final = ("low", "moderate", "high", "very_high")
# Pollutant -> upper bounds of low, moderate and high (hourly mean, ug/m3).
CLASS_BOUNDS: Final[dict[str, tuple[float, float, float]]] = {
    "pm10": (60.0, 120.0, 400.0),
    "pm25": (30.0, 50.0, 150.0),
    "no2": (100.0, 200.0, 400.0),
    "o3": (100.0, 180.0, 240.0),
}


def classify(pollutant: str, value: float) -> str:
    """The class of one pollutant's hourly mean."""
    bounds = CLASS_BOUNDS[pollutant]
    for name, bound in zip(CLASS_NAMES, bounds, strict=False):
        if value <= bound:
            return name
    return CLASS_NAMES[-1]


@dataclass(frozen=True, slots=True)
class HourClass:
    """The class of one hour at one monitor: the worst of its pollutants."""

    hour: datetime
    name: str
    pollutants: dict[str, str]
    values: dict[str, float]


def classify_hour(hour: datetime, means: Mapping[str, float]) -> HourClass | None:
    """Class of an hour from the hourly means of the pollutants measured."""
    known = {p: v for p, v in means.items() if p in CLASS_BOUNDS}
    if not known:
        return None
    pollutants = {p: classify(p, v) for p, v in known.items()}
    worst = max(pollutants.values(), key=CLASS_NAMES.index)
    return HourClass(hour, worst, pollutants, {p: round(v, 2) for p, v in known.items()})


def hourly_limit(
    rule: Rule,
    *,
    hour: datetime,
    mean: float,
    count: int,
    exceedances_this_year: int,
) -> Verdict:
    """The mean of the last complete clock hour above ``above``; details count the
    hours above it so far this (local) year against ``allowed_per_year``."""
    limit = rule.number("above", 200.0)
    metric = rule.metric or "value"
    firing = mean > limit
    details: dict[str, object] = {
        "hour": hour.isoformat(),
        "readings": count,
        "hours_above_this_year": exceedances_this_year,
    }
    allowed = rule.optional("allowed_per_year")
    if allowed is not None:
        details["allowed_per_year"] = int(allowed)
    if firing:
        message = f"hourly mean {metric} {mean:.1f} µg/m³ above the limit value {limit:g} µg/m³"
        message += f" ({exceedances_this_year} hour(s) above it this year"
        message += f", {int(allowed)} allowed)" if allowed is not None else ")"
    else:
        message = f"hourly mean {metric} {mean:.1f} µg/m³ within the limit value {limit:g} µg/m³"
    return Verdict(firing, hour, mean, message, hour if firing else None, details)
