"""Water-meter rules: leak by minimum night flow, and the register running backwards.

A burst is a plain threshold rule with a duration (the ``burst`` default of the
water_meter profile: more than 3000 l/h for 15 minutes); see docs/alerts.md.

Minimum night flow: between 02:00 and 05:00 local time a household draws
(almost) nothing, so the lowest flow seen then is what leaks. A running toilet
or a dripping pipe keeps it above a few litres per hour night after night. The
window is built in local time with zoneinfo, so on the night the clocks go
forward it lasts two hours and on the night they go back four.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hub.alerts.conditions import Sample, Verdict
from hub.model import Rule

DEFAULT_MIN_FLOW = 5.0  # l/h
DEFAULT_START_HOUR = 2.0
DEFAULT_END_HOUR = 5.0
DEFAULT_NIGHTS = 2
DEFAULT_MIN_DROP = 0.001  # one litre on a register in m3
# A night counts only if at least this share of its expected readings arrived.
MIN_COVERAGE = 0.5


@dataclass(frozen=True, slots=True)
class Night:
    """One night window: the local date it ends on, and its UTC bounds."""

    day: date
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class NightStat:
    night: Night
    minimum: float | None
    count: int


def _local(day: date, hour: float, zone: ZoneInfo) -> datetime:
    whole = int(hour)
    minutes = round((hour - whole) * 60)
    # fold=0: a time the clocks skip is read with the offset in force before the
    # change (so 02:00 on the spring-forward night is the change itself), and a
    # time that occurs twice is its first occurrence.
    local = datetime.combine(day, time(whole, minutes), tzinfo=zone)
    return local.astimezone(UTC)


def night_window(day: date, *, timezone: str, start_hour: float, end_hour: float) -> Night:
    """The window ending on local date ``day`` (it starts the evening before when
    ``start_hour`` is later than ``end_hour``)."""
    zone = ZoneInfo(timezone)
    start_day = day - timedelta(days=1) if start_hour > end_hour else day
    return Night(day, _local(start_day, start_hour, zone), _local(day, end_hour, zone))


def night_windows(rule: Rule, *, timezone: str, until: datetime, count: int) -> list[Night]:
    """The ``count`` most recent windows that ended at or before ``until``, oldest first."""
    start_hour = rule.number("start_hour", DEFAULT_START_HOUR)
    end_hour = rule.number("end_hour", DEFAULT_END_HOUR)
    day = until.astimezone(ZoneInfo(timezone)).date()
    nights: list[Night] = []
    while len(nights) < count:
        night = night_window(day, timezone=timezone, start_hour=start_hour, end_hour=end_hour)
        if night.end <= until:
            nights.append(night)
        day -= timedelta(days=1)
    return nights[::-1]


def nights_needed(rule: Rule) -> int:
    return int(rule.number("nights", DEFAULT_NIGHTS))


def night_flow(
    rule: Rule, stats: Sequence[NightStat], *, expected_interval_s: float, is_open: bool
) -> Verdict | None:
    """Leak when the lowest flow stayed above ``min_flow`` on each of the last
    ``nights`` consecutive nights (``stats``: the most recent complete nights,
    oldest first). A night with too few readings breaks the chain."""
    if not stats:
        return None
    min_flow = rule.number("min_flow", DEFAULT_MIN_FLOW)
    needed = nights_needed(rule)

    def measured(stat: NightStat) -> bool:
        span = (stat.night.end - stat.night.start).total_seconds()
        expected = max(1.0, MIN_COVERAGE * span / expected_interval_s)
        return stat.minimum is not None and stat.count >= expected

    latest = stats[-1]
    if not measured(latest):
        return None
    assert latest.minimum is not None
    at = latest.night.end
    if latest.minimum <= min_flow:
        message = f"night flow fell to {latest.minimum:g} l/h (limit {min_flow:g} l/h)"
        return Verdict(False, at, latest.minimum, message)
    run: list[NightStat] = []
    for stat in reversed(stats):
        if not measured(stat) or stat.minimum is None or stat.minimum <= min_flow:
            break
        run.append(stat)
    firing = len(run) >= needed or is_open
    lowest = [round(s.minimum, 3) for s in reversed(run) if s.minimum is not None]
    message = (
        f"minimum night flow above {min_flow:g} l/h for {len(run)} night(s) "
        f"(lowest {latest.minimum:g} l/h on {latest.night.day.isoformat()})"
    )
    details = {
        "nights": [s.night.day.isoformat() for s in reversed(run)],
        "minimum_flows": lowest,
        "nights_needed": needed,
    }
    return Verdict(firing, at, latest.minimum, message, run[-1].night.start, details)


def register_backflow(rule: Rule, samples: Sequence[Sample], *, is_open: bool) -> Verdict | None:
    """The cumulative register went down by more than ``min_drop`` since the
    previous reading: water flowed back into the mains (or the meter was replaced).
    Clears when the register moves forward again."""
    min_drop = rule.number("min_drop", DEFAULT_MIN_DROP)
    moves = [
        (b_time, b - a, a, b)
        for (_, a), (b_time, b) in itertools.pairwise(samples)
        if abs(b - a) > 1e-9
    ]
    if not moves:
        return None
    at, change, before, after = moves[-1]
    if change > 0:
        return Verdict(False, at, after, f"register moving forward ({after:g})")
    if -change <= min_drop:
        return None if is_open else Verdict(False, at, after, "register steady")
    since = at
    total = 0.0
    for time_, step, _, _ in reversed(moves):
        if step >= 0:
            break
        since = time_
        total += -step
    message = f"register running backwards: {before:g} -> {after:g}"
    return Verdict(True, at, after, message, since, {"drop": round(total, 6)})
