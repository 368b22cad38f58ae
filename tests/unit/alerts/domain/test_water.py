"""Water rules on a simulated clock: the 02:00-05:00 night window across both
daylight-saving changes, leak by minimum night flow over consecutive nights, and
the register running backwards."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from hub.alerts.domain.water import (
    Night,
    NightStat,
    night_flow,
    night_window,
    night_windows,
    register_backflow,
)
from hub.model import Rule

OSLO = "Europe/Oslo"


def rule(metric: str = "flow", **parameters: Any) -> Rule:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    return Rule(1, "r", "domain", "water_meter", metric, None, None, parameters, "warning",
                None, True, "profile", t, t)  # type: ignore[arg-type]  # fmt: skip


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_night_window_on_an_ordinary_winter_night_is_three_hours() -> None:
    night = night_window(date(2026, 1, 15), timezone=OSLO, start_hour=2, end_hour=5)
    assert (night.start, night.end) == (utc(2026, 1, 15, 1), utc(2026, 1, 15, 4))


def test_night_window_when_the_clocks_go_forward_is_two_hours() -> None:
    # 29 March 2026: 02:00 CET becomes 03:00 CEST; local 02:00-03:00 never happens.
    night = night_window(date(2026, 3, 29), timezone=OSLO, start_hour=2, end_hour=5)
    assert (night.start, night.end) == (utc(2026, 3, 29, 1), utc(2026, 3, 29, 3))


def test_night_window_when_the_clocks_go_back_is_four_hours() -> None:
    # 25 October 2026: 03:00 CEST becomes 02:00 CET; local 02:00-03:00 happens twice.
    night = night_window(date(2026, 10, 25), timezone=OSLO, start_hour=2, end_hour=5)
    assert (night.start, night.end) == (utc(2026, 10, 25, 0), utc(2026, 10, 25, 4))


def test_night_window_across_midnight_starts_the_evening_before() -> None:
    night = night_window(date(2026, 1, 15), timezone=OSLO, start_hour=23, end_hour=4)
    assert (night.start, night.end) == (utc(2026, 1, 14, 22), utc(2026, 1, 15, 3))


def test_recent_windows_are_complete_and_oldest_first() -> None:
    nights = night_windows(rule(), timezone=OSLO, until=utc(2026, 3, 30, 2, 30), count=3)
    # At 04:30 local on 30 March tonight's window has not ended yet.
    assert [n.day for n in nights] == [date(2026, 3, 27), date(2026, 3, 28), date(2026, 3, 29)]
    assert nights[-1].end == utc(2026, 3, 29, 3)


def stats(minima: list[float | None], start_day: date = date(2026, 3, 27)) -> list[NightStat]:
    out = []
    for i, minimum in enumerate(minima):
        day = start_day + timedelta(days=i)
        night = night_window(day, timezone=OSLO, start_hour=2, end_hour=5)
        out.append(NightStat(night, minimum, 0 if minimum is None else 12))
    return out


LEAK = rule(check="night_flow", min_flow=5, nights=3)


def test_leak_needs_the_number_of_consecutive_nights() -> None:
    verdict = night_flow(LEAK, stats([12, 12]), expected_interval_s=900, is_open=False)
    assert verdict is not None and verdict.firing is False
    verdict = night_flow(LEAK, stats([12, 11, 12]), expected_interval_s=900, is_open=False)
    assert verdict is not None and verdict.firing is True
    assert verdict.details["nights"] == ["2026-03-27", "2026-03-28", "2026-03-29"]
    assert verdict.since == utc(2026, 3, 27, 1)


def test_leak_counted_across_the_spring_forward_night() -> None:
    # The 2-hour night of 29 March still has enough readings at 15-minute reports.
    run = stats([12, 12, 12])
    assert run[-1].night == Night(date(2026, 3, 29), utc(2026, 3, 29, 1), utc(2026, 3, 29, 3))
    run[-1] = NightStat(run[-1].night, 12, 8)
    verdict = night_flow(LEAK, run, expected_interval_s=900, is_open=False)
    assert verdict is not None and verdict.firing is True


def test_a_quiet_night_breaks_the_chain_and_clears_the_leak() -> None:
    verdict = night_flow(LEAK, stats([12, 2, 12]), expected_interval_s=900, is_open=False)
    assert verdict is not None and verdict.firing is False
    verdict = night_flow(LEAK, stats([12, 12, 12, 0.0]), expected_interval_s=900, is_open=True)
    assert verdict is not None and verdict.firing is False


def test_a_night_without_readings_tells_nothing() -> None:
    assert night_flow(LEAK, stats([12, 12, None]), expected_interval_s=900, is_open=True) is None


def test_register_running_backwards() -> None:
    t = utc(2026, 3, 2, 12)
    minutes = [0, 15, 30, 45]
    backwards = [
        (t + timedelta(minutes=m), v)
        for m, v in zip(minutes, [100.020, 100.020, 100.005, 99.990], strict=True)
    ]
    r = rule("volume", check="register_backflow")
    verdict = register_backflow(r, backwards, is_open=False)
    assert verdict is not None and verdict.firing is True
    assert verdict.since == t + timedelta(minutes=30)
    assert verdict.details["drop"] == 0.03
    forward = [*backwards, (t + timedelta(minutes=60), 100.1)]
    verdict = register_backflow(r, forward, is_open=True)
    assert verdict is not None and verdict.firing is False
