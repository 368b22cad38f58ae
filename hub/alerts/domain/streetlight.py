"""Street-light rules: day burner, outage, power out of band, cycling.

Whether a lamp should burn comes from the sun's elevation at the lamp
(:mod:`hub.alerts.sun`), never from a clock: a pole in Tromsø in December should
burn all day and one in June never. All rules look at the lamp's readings over a
span ending at its newest reading, so late or back-filled data are judged by
their own time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import pairwise

from hub.alerts.conditions import Sample, Verdict, held_since
from hub.alerts.sun import CIVIL_DUSK_DEG, FULL_DAY_DEG, sun_elevation
from hub.model import Rule

STANDBY_W = 5.0  # at or below this a luminaire is dark (the controller draws ~1 W)
DEFAULT_FOR_S = 1800.0
DEFAULT_TOLERANCE = 0.25
DEFAULT_MIN_RATIO = 0.1
DEFAULT_MAX_SWITCHES = 4.0


def _lit(rule: Rule, value: float) -> bool:
    # The rule may watch lamp_on (0/1) or the power drawn.
    if rule.metric == "lamp_on":
        return value >= 0.5
    return value > rule.number("power_above", STANDBY_W)


def _sustained(
    rule: Rule,
    samples: Sequence[Sample],
    since: datetime | None,
    *,
    is_open: bool,
    message: str,
    details: dict[str, object],
) -> Verdict:
    at, value = samples[-1]
    for_s = rule.number("for_s", DEFAULT_FOR_S)
    if since is None:
        return Verdict(False, at, value, "as expected for the sun's position")
    held = (at - since).total_seconds()
    firing = held >= for_s or is_open
    return Verdict(firing, at, value, message, since, {**details, "held_s": held})


def day_burner(
    rule: Rule, samples: Sequence[Sample], *, lat: float, lon: float, is_open: bool
) -> Verdict | None:
    """Lit while the sun stands above ``sun_elevation_deg`` (default +3) for ``for_s``."""
    if not samples:
        return None
    limit = rule.number("sun_elevation_deg", FULL_DAY_DEG)

    def burning_by_day(time: datetime, value: float) -> bool:
        return _lit(rule, value) and sun_elevation(lat, lon, time) > limit

    since = held_since(samples, burning_by_day)
    at = samples[-1][0]
    elevation = sun_elevation(lat, lon, at)
    return _sustained(
        rule,
        samples,
        since,
        is_open=is_open,
        message=f"lamp lit in daylight (sun {elevation:.1f} deg above the horizon)",
        details={"sun_elevation_deg": round(elevation, 2)},
    )


def lamp_outage(
    rule: Rule, samples: Sequence[Sample], *, lat: float, lon: float, is_open: bool
) -> Verdict | None:
    """Power below ``power_below`` (default 5 W) while the sun is below
    ``sun_elevation_deg`` (default -6, civil dusk) for ``for_s``."""
    if not samples:
        return None
    limit = rule.number("sun_elevation_deg", CIVIL_DUSK_DEG)
    power_below = rule.number("power_below", STANDBY_W)
    at, value = samples[-1]
    if sun_elevation(lat, lon, at) >= limit:
        # Daylight or twilight: the lamp may rightly be dark; judge again at night.
        return None if is_open else Verdict(False, at, value, "daylight")

    def dark_at_night(time: datetime, power: float) -> bool:
        return power < power_below and sun_elevation(lat, lon, time) < limit

    since = held_since(samples, dark_at_night)
    elevation = sun_elevation(lat, lon, at)
    return _sustained(
        rule,
        samples,
        since,
        is_open=is_open,
        message=f"lamp dark at night: {value:g} W with the sun {-elevation:.1f} deg below the horizon",
        details={"sun_elevation_deg": round(elevation, 2), "power_below": power_below},
    )


def expected_power(dim: float, *, rated_w: float, min_ratio: float) -> float:
    """Power of a dimmable LED luminaire at ``dim`` percent: a fixed driver share
    plus a part proportional to the light output."""
    return rated_w * (min_ratio + (1 - min_ratio) * dim / 100)


def power_band(
    rule: Rule,
    samples: Sequence[tuple[datetime, float, float]],
    *,
    reference_w: float | None,
    is_open: bool,
) -> Verdict | None:
    """Power outside ``expected ± tolerance`` for its dim level for ``for_s``.

    ``samples`` are (time, power, dim level) of readings with the lamp dimmed above
    0; ``reference_w`` is the lamp's full-output power (``rated_w`` or learned)."""
    rated = rule.optional("rated_w") or reference_w
    if not samples or rated is None or rated <= 0:
        return None
    tolerance = rule.number("tolerance", DEFAULT_TOLERANCE)
    min_ratio = rule.number("min_ratio", DEFAULT_MIN_RATIO)

    def off_band(power: float, dim: float) -> bool:
        expected = expected_power(dim, rated_w=rated, min_ratio=min_ratio)
        return abs(power - expected) > tolerance * expected

    since: datetime | None = None
    for time, power, dim in reversed(samples):
        if not off_band(power, dim):
            break
        since = time
    _, power, dim = samples[-1]
    expected = expected_power(dim, rated_w=rated, min_ratio=min_ratio)
    pairs = [(t, p) for t, p, _ in samples]
    return _sustained(
        rule,
        pairs,
        since,
        is_open=is_open,
        message=(
            f"lamp draws {power:g} W at dim {dim:g} %, expected {expected:.0f} W ± {tolerance:.0%}"
        ),
        details={"expected_w": round(expected, 1), "dim_level": dim, "reference_w": rated},
    )


def cycling(rule: Rule, samples: Sequence[Sample], *, is_open: bool) -> Verdict | None:
    """More than ``max_switches_per_h`` on/off changes within the last hour of
    readings. Once open it clears at half that many (so it does not flap)."""
    if len(samples) < 2:
        return None
    at = samples[-1][0]
    start = samples[0][0]
    switches = sum(1 for (_, a), (_, b) in pairwise(samples) if _lit(rule, a) != _lit(rule, b))
    limit = rule.number("max_switches_per_h", DEFAULT_MAX_SWITCHES)
    firing = switches > limit / 2 if is_open else switches > limit
    message = f"lamp switched {switches} times in the last hour (limit {limit:g})"
    details = {"switches": switches, "from": start.isoformat()}
    return Verdict(firing, at, float(switches), message, start if firing else None, details)
