"""Street-light rules on a simulated clock, against the sun at the lamp: day
burner, outage, power band and cycling, in Hamar and in Tromsø (polar night and
midnight sun)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hub.alerts.domain.streetlight import (
    cycling,
    day_burner,
    expected_power,
    lamp_outage,
    power_band,
)
from hub.alerts.sun import sun_elevation
from hub.model import Rule

HAMAR = (60.79, 11.07)
TROMSO = (69.65, 18.96)


def rule(metric: str, **parameters: Any) -> Rule:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    return Rule(1, "r", "domain", "street_light", metric, None, None, parameters, "warning",
                None, True, "profile", t, t)  # type: ignore[arg-type]  # fmt: skip


def series(
    start: datetime, minutes: int, value: float, every: int = 5
) -> list[tuple[datetime, float]]:
    return [(start + timedelta(minutes=m), value) for m in range(0, minutes + 1, every)]


DAY_BURNER = rule("lamp_on", check="day_burner", sun_elevation_deg=3, for_s=1800)
OUTAGE = rule("power", check="lamp_outage", sun_elevation_deg=-6, power_below=5, for_s=1800)


def test_sun_is_below_the_horizon_all_day_in_tromso_in_december() -> None:
    noon = datetime(2026, 12, 18, 10, 45, tzinfo=UTC)  # local solar noon
    assert sun_elevation(*TROMSO, noon) < 0
    assert sun_elevation(*TROMSO, datetime(2026, 6, 21, 23, 0, tzinfo=UTC)) > 0  # midnight sun


def test_lamp_lit_at_midday_in_hamar_is_a_day_burner_after_half_an_hour() -> None:
    start = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
    lit = series(start, 25, 1.0)
    early = day_burner(DAY_BURNER, lit, lat=HAMAR[0], lon=HAMAR[1], is_open=False)
    assert early is not None and early.firing is False
    verdict = day_burner(
        DAY_BURNER, series(start, 30, 1.0), lat=HAMAR[0], lon=HAMAR[1], is_open=False
    )
    assert verdict is not None and verdict.firing is True
    assert verdict.since == start and "daylight" in verdict.message


def test_lamp_lit_all_day_in_polar_night_is_not_a_day_burner() -> None:
    day = series(datetime(2026, 12, 18, 0, 0, tzinfo=UTC), 24 * 60, 1.0, every=15)
    verdict = day_burner(DAY_BURNER, day, lat=TROMSO[0], lon=TROMSO[1], is_open=False)
    assert verdict is not None and verdict.firing is False


def test_lamp_lit_at_midnight_under_the_midnight_sun_is_a_day_burner() -> None:
    night = series(datetime(2026, 6, 21, 22, 0, tzinfo=UTC), 60, 1.0)
    verdict = day_burner(DAY_BURNER, night, lat=TROMSO[0], lon=TROMSO[1], is_open=False)
    assert verdict is not None and verdict.firing is True


def test_day_burner_clears_when_the_lamp_goes_dark() -> None:
    start = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
    samples = [*series(start, 60, 1.0), (start + timedelta(minutes=65), 0.0)]
    verdict = day_burner(DAY_BURNER, samples, lat=HAMAR[0], lon=HAMAR[1], is_open=True)
    assert verdict is not None and verdict.firing is False


def test_dark_lamp_at_night_is_an_outage_but_not_by_day() -> None:
    night = series(datetime(2026, 3, 10, 21, 0, tzinfo=UTC), 40, 0.6)
    verdict = lamp_outage(OUTAGE, night, lat=HAMAR[0], lon=HAMAR[1], is_open=False)
    assert verdict is not None and verdict.firing is True
    assert "dark at night" in verdict.message
    day = series(datetime(2026, 3, 10, 11, 0, tzinfo=UTC), 40, 0.6)
    verdict = lamp_outage(OUTAGE, day, lat=HAMAR[0], lon=HAMAR[1], is_open=False)
    assert verdict is not None and verdict.firing is False
    # An open outage is not cleared by daylight: it is judged again at dusk.
    assert lamp_outage(OUTAGE, day, lat=HAMAR[0], lon=HAMAR[1], is_open=True) is None


def test_dark_lamp_at_polar_noon_is_an_outage_in_deep_twilight_only() -> None:
    # Tromsø, 18 December: around noon the sun is about 3 degrees below the
    # horizon (not dark enough to demand light); at 16:00 UTC it is far below.
    noon = series(datetime(2026, 12, 18, 10, 0, tzinfo=UTC), 60, 0.6)
    verdict = lamp_outage(OUTAGE, noon, lat=TROMSO[0], lon=TROMSO[1], is_open=False)
    assert verdict is not None and verdict.firing is False
    evening = series(datetime(2026, 12, 18, 16, 0, tzinfo=UTC), 60, 0.6)
    verdict = lamp_outage(OUTAGE, evening, lat=TROMSO[0], lon=TROMSO[1], is_open=False)
    assert verdict is not None and verdict.firing is True


def test_no_outage_under_the_midnight_sun() -> None:
    night = series(datetime(2026, 6, 21, 22, 0, tzinfo=UTC), 120, 0.6)
    verdict = lamp_outage(OUTAGE, night, lat=TROMSO[0], lon=TROMSO[1], is_open=False)
    assert verdict is not None and verdict.firing is False


BAND = rule("power", check="power_band", tolerance=0.25, min_ratio=0.1, for_s=1800)


def test_power_within_band_for_each_dim_level() -> None:
    start = datetime(2026, 3, 10, 22, 0, tzinfo=UTC)
    samples = [
        (start + timedelta(minutes=m), expected_power(d, rated_w=60, min_ratio=0.1), d)
        for m, d in ((0, 100), (10, 100), (20, 50), (30, 50), (40, 50))
    ]
    verdict = power_band(BAND, samples, reference_w=60, is_open=False)
    assert verdict is not None and verdict.firing is False


def test_power_far_below_band_for_half_an_hour_fires() -> None:
    start = datetime(2026, 3, 10, 22, 0, tzinfo=UTC)
    samples = [(start + timedelta(minutes=m), 30.0, 100.0) for m in range(0, 35, 5)]
    verdict = power_band(BAND, samples, reference_w=60, is_open=False)
    assert verdict is not None and verdict.firing is True
    assert verdict.details["expected_w"] == 60.0
    # Without a reference (nothing learned, no rated_w) it cannot tell.
    assert power_band(BAND, samples, reference_w=None, is_open=False) is None


def test_cycling_counts_switches_in_the_last_hour() -> None:
    start = datetime(2026, 3, 10, 22, 0, tzinfo=UTC)
    flapping = [(start + timedelta(minutes=5 * i), float(i % 2)) for i in range(13)]
    r = rule("lamp_on", check="cycling", max_switches_per_h=4)
    verdict = cycling(r, flapping, is_open=False)
    assert verdict is not None and verdict.firing is True and verdict.value == 12
    steady = [(start + timedelta(minutes=5 * i), 1.0) for i in range(13)]
    verdict = cycling(r, steady, is_open=True)
    assert verdict is not None and verdict.firing is False
