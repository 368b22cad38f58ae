"""Pure evaluation of the generic rule kinds: no I/O, times passed in.

Each evaluator returns a :class:`Verdict`: is the rule's condition firing for a
device, since when (in data time), with which value and message. ``firing=None``
means "cannot tell" (too little data) and leaves any alert as it is. The engine
(:mod:`hub.alerts.engine`) turns verdicts into alert transitions.

Point rules (threshold, rate of change) keep a small state per rule and device,
fed reading by reading in time order; readings older than the newest one seen
are ignored, so a late message cannot flip an alert back and forth.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, NamedTuple

from hub.model import Rule

Sample = tuple[datetime, float]


_NO_DETAILS: Mapping[str, Any] = MappingProxyType({})


class Verdict(NamedTuple):
    """A rule's judgement for one device (a NamedTuple: one per reading)."""

    firing: bool | None
    at: datetime
    value: float | None = None
    message: str = ""
    since: datetime | None = None
    details: Mapping[str, Any] = _NO_DETAILS


@dataclass(frozen=True, slots=True)
class Levels:
    """Raise above ``above`` / below ``below``; once raised, clear only when back
    past the clear level (``above - hysteresis`` / ``below + hysteresis``)."""

    above: float | None
    below: float | None
    hysteresis: float = 0.0

    @classmethod
    def of(cls, rule: Rule) -> Levels:
        return cls(rule.optional("above"), rule.optional("below"), rule.number("hysteresis", 0))

    def breached(self, value: float) -> bool:
        return (self.above is not None and value > self.above) or (
            self.below is not None and value < self.below
        )

    def still_breached(self, value: float) -> bool:
        """True while the value has not gone back past the clear level."""
        return (self.above is not None and value > self.above - self.hysteresis) or (
            self.below is not None and value < self.below + self.hysteresis
        )

    def describe(self, value: float, unit: str = "") -> str:
        if self.above is not None and value > self.above - self.hysteresis:
            return f"above {_with(self.above, unit, 'g')}"
        if self.below is not None:
            return f"below {_with(self.below, unit, 'g')}"
        return "within limits"


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _with(value: float, unit: str, spec: str = ".4g") -> str:
    """A value with its unit: "3500 l/h", "21.5 °C", "3" (no unit)."""
    text = format(value, spec)
    return f"{text} {unit}" if unit else text


class ThresholdState:
    """Threshold with a duration (``for_s``) and hysteresis, per rule and device."""

    def __init__(self, rule: Rule, *, active: bool = False, unit: str = "") -> None:
        self.levels = Levels.of(rule)
        self.unit = unit
        self.for_s = rule.number("for_s", 0)
        self.metric = rule.metric or "value"
        self.active = active
        self.breach_since: datetime | None = None
        self.last_time: datetime | None = None

    def step(self, time: datetime, value: float) -> Verdict | None:
        """Feed one reading; None for a reading older than the newest one seen."""
        if self.last_time is not None and time <= self.last_time:
            return None
        self.last_time = time
        levels = self.levels
        if self.active:
            if levels.still_breached(value):
                return self._verdict(True, time, value)
            self.active = False
            self.breach_since = None
            message = f"{self.metric} {_with(value, self.unit)} back within limits"
            return Verdict(False, time, value, message)
        if not levels.breached(value):
            self.breach_since = None
            return Verdict(False, time, value)  # the usual case: no message to format
        if self.breach_since is None:
            self.breach_since = time
        if (time - self.breach_since).total_seconds() >= self.for_s:
            self.active = True
            return self._verdict(True, time, value)
        return Verdict(False, time, value, "pending", self.breach_since)

    def _verdict(self, firing: bool, time: datetime, value: float) -> Verdict:
        since = self.breach_since or time
        held = (time - since).total_seconds()
        message = (
            f"{self.metric} {_with(value, self.unit)} {self.levels.describe(value, self.unit)}"
        )
        if held > 0:
            message += f" for {_duration(held)}"
        return Verdict(firing, time, value, message, since, {"for_s": self.for_s})


class RateState:
    """Rate of change per hour against the oldest reading within ``window_s``
    (default one hour), per rule and device."""

    def __init__(self, rule: Rule, *, unit: str = "") -> None:
        self.per_h = f" {unit}/h" if unit else "/h"  # "rising 12 l/h/h", "rising 12/h"
        self.max_rise = rule.optional("max_rise_per_h")
        self.max_fall = rule.optional("max_fall_per_h")
        self.window = timedelta(seconds=rule.number("window_s", 3600))
        self.metric = rule.metric or "value"
        self.samples: deque[Sample] = deque()

    def step(self, time: datetime, value: float) -> Verdict | None:
        if self.samples and time <= self.samples[-1][0]:
            return None
        self.samples.append((time, value))
        while self.samples and self.samples[0][0] < time - self.window:
            self.samples.popleft()
        first_time, first_value = self.samples[0]
        hours = (time - first_time).total_seconds() / 3600
        if hours <= 0:
            return None
        rate = (value - first_value) / hours
        details = {"rate_per_h": round(rate, 6), "from": first_time.isoformat()}
        if self.max_rise is not None and rate > self.max_rise:
            message = f"{self.metric} rising {_fmt(rate)}{self.per_h} (limit {self.max_rise:g}{self.per_h})"
            return Verdict(True, time, value, message, time, details)
        if self.max_fall is not None and -rate > self.max_fall:
            message = f"{self.metric} falling {_fmt(-rate)}{self.per_h} (limit {self.max_fall:g}{self.per_h})"
            return Verdict(True, time, value, message, time, details)
        message = f"{self.metric} changing {_fmt(rate)}{self.per_h}"
        return Verdict(False, time, value, message, None, details)


def window_verdict(
    rule: Rule,
    *,
    value: float,
    count: int,
    at: datetime,
    start: datetime,
    is_open: bool,
    unit: str = "",
) -> Verdict:
    """A rolling or calendar-day aggregate against its levels (with hysteresis)."""
    levels = Levels.of(rule)
    aggregate = str(rule.parameters.get("aggregate", "mean"))
    firing = levels.still_breached(value) if is_open else levels.breached(value)
    span = (
        "local day"
        if rule.parameters.get("local_day")
        else _duration(rule.number("window_s", 3600))
    )
    metric = rule.metric or "value"
    state = levels.describe(value, unit) if firing else "within limits"
    message = f"{span} {aggregate} of {metric} {_with(value, unit)} {state}"
    details = {"aggregate": aggregate, "window_start": start.isoformat(), "readings": count}
    return Verdict(firing, at, value, message, None, details)


def stale_verdict(
    *,
    now: datetime,
    limit_s: float,
    last_seen: datetime | None,
    status: str,
    status_changed_at: datetime | None,
) -> Verdict:
    """Offline when a last-will ``offline`` is newer than the last message, or when
    nothing arrived for ``limit_s`` seconds; cannot tell for a device never seen."""
    went_offline = status == "offline" and (
        last_seen is None or (status_changed_at is not None and status_changed_at >= last_seen)
    )
    if went_offline:
        since = status_changed_at or now
        return Verdict(True, now, None, "device reported offline (last will)", since,
                       {"reason": "offline_status"})  # fmt: skip
    if last_seen is None:
        return Verdict(None, now)
    silent = (now - last_seen).total_seconds()
    if silent > limit_s:
        since = last_seen + timedelta(seconds=limit_s)
        message = f"no data for {_duration(silent)} (limit {_duration(limit_s)})"
        details = {"reason": "no_data", "last_seen": last_seen.isoformat(), "limit_s": limit_s}
        return Verdict(True, now, silent, message, since, details)
    return Verdict(
        False, now, silent, "reporting again", None, {"last_seen": last_seen.isoformat()}
    )


def held_since(
    samples: Sequence[Sample], condition: Callable[[datetime, float], bool]
) -> datetime | None:
    """Start of the run of samples at the end of ``samples`` (time order) for which
    ``condition`` holds; None if the newest sample does not satisfy it."""
    since: datetime | None = None
    for time, value in reversed(samples):
        if not condition(time, value):
            break
        since = time
    return since


def _duration(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"
