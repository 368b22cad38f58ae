"""Generic rule kinds on a simulated clock: threshold (duration, hysteresis), rate
of change, rolling window and stale/offline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub.alerts.conditions import RateState, ThresholdState, stale_verdict, window_verdict
from hub.model import Rule

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def rule(kind: str, metric: str | None = "flow", **parameters: Any) -> Rule:
    return Rule(1, "r", kind, "water_meter", metric, None, None, parameters, "warning", None,
                True, "api", T0, T0)  # type: ignore[arg-type]  # fmt: skip


def feed(state: ThresholdState | RateState, values: list[tuple[int, float]]) -> list[bool | None]:
    """Feed (minute, value) readings; the firing flag after each."""
    out = []
    for minute, value in values:
        verdict = state.step(T0 + timedelta(minutes=minute), value)
        out.append(None if verdict is None else verdict.firing)
    return out


def test_threshold_opens_only_after_holding_for_its_duration() -> None:
    state = ThresholdState(rule("threshold", above=3000, for_s=900))
    fired = feed(state, [(0, 3500), (5, 3600), (10, 3700), (15, 3800)])
    assert fired == [False, False, False, True]


def test_threshold_duration_restarts_when_the_value_dips() -> None:
    state = ThresholdState(rule("threshold", above=3000, for_s=900))
    fired = feed(state, [(0, 3500), (10, 2000), (15, 3500), (25, 3500), (30, 3500)])
    assert fired == [False, False, False, False, True]


def test_threshold_hysteresis_keeps_it_open_until_the_clear_level() -> None:
    state = ThresholdState(rule("threshold", metric="pm10", above=120, hysteresis=10))
    fired = feed(state, [(0, 125), (5, 115), (10, 111), (15, 110), (20, 118)])
    # Raised above 120; 115 and 111 are still above the clear level 110; 110 clears;
    # 118 is below the raise level so it does not reopen.
    assert fired == [True, True, True, False, False]


def test_threshold_below_with_hysteresis_clears_above_the_clear_level() -> None:
    state = ThresholdState(rule("threshold", metric="temperature", below=1.0, hysteresis=1.0))
    assert feed(state, [(0, 0.5), (5, 1.5), (10, 2.1)]) == [True, True, False]


def test_threshold_ignores_a_late_reading_older_than_the_newest() -> None:
    state = ThresholdState(rule("threshold", above=10))
    assert feed(state, [(10, 20), (5, 0), (15, 20)]) == [True, None, True]


def test_threshold_restored_as_active_stays_open_inside_the_hysteresis_band() -> None:
    # After a restart the engine restores the state from the open alert.
    state = ThresholdState(rule("threshold", above=100, hysteresis=20), active=True)
    assert feed(state, [(0, 90), (5, 79)]) == [True, False]


def test_threshold_verdict_says_since_when() -> None:
    state = ThresholdState(rule("threshold", above=3000, for_s=600))
    feed(state, [(0, 3100), (5, 3200)])
    verdict = state.step(T0 + timedelta(minutes=10), 3300)
    assert verdict is not None and verdict.firing
    assert verdict.since == T0 and verdict.value == 3300
    assert "above 3000 for 10 min" in verdict.message


def test_rate_of_change_against_the_oldest_reading_in_the_window() -> None:
    state = RateState(rule("rate_of_change", metric="no2", max_rise_per_h=150))
    # +50 in 20 min = 150/h: not above; +120 in 30 min = 240/h: above.
    assert feed(state, [(0, 20), (10, 40), (20, 70), (30, 140)]) == [None, False, False, True]
    # An hour later the rise has flattened out.
    assert feed(state, [(90, 150), (100, 152)]) == [False, False]


def test_rate_of_change_fall() -> None:
    state = RateState(rule("rate_of_change", metric="battery", max_fall_per_h=10))
    assert feed(state, [(0, 80), (30, 70)]) == [None, True]


@pytest.mark.parametrize(
    ("value", "is_open", "firing"),
    [(55.0, False, True), (49.0, False, False), (47.0, True, True), (44.0, True, False)],
)
def test_window_aggregate_with_hysteresis(value: float, is_open: bool, firing: bool) -> None:
    r = rule("window", metric="pm10", aggregate="mean", local_day=True, above=50, hysteresis=5)
    verdict = window_verdict(r, value=value, count=100, at=T0, start=T0, is_open=is_open)
    assert verdict.firing is firing
    assert "local day mean of pm10" in verdict.message


NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("last_seen_min", "status", "changed_min", "firing"),
    [
        (-10, "online", -60, False),  # reported 10 min ago; limit 15 min
        (-16, "online", -60, True),  # silent for 16 min
        (-1, "offline", 0, True),  # last will after the last message
        (-1, "offline", -5, False),  # data arrived after an old last will
        (None, "unknown", None, None),  # never seen: cannot tell
    ],
)
def test_stale_by_silence_or_last_will(
    last_seen_min: int | None, status: str, changed_min: int | None, firing: bool | None
) -> None:
    def at(minutes: int | None) -> datetime | None:
        return None if minutes is None else NOW + timedelta(minutes=minutes)

    verdict = stale_verdict(
        now=NOW,
        limit_s=900,
        last_seen=at(last_seen_min),
        status=status,
        status_changed_at=at(changed_min),
    )
    assert verdict.firing is firing
