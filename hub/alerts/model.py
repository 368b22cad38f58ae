"""Domain types of the alert engine: rules, alerts and their history.

A :class:`RuleSpec` is what a rule says (from a profile or the API); a
:class:`Rule` is a stored one. An :class:`Alert` is one episode of a rule firing
for one device; its transitions are :class:`AlertEvent` rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

from hub.errors import HubError

RuleKind = Literal["threshold", "rate_of_change", "stale", "window", "domain"]
Severity = Literal["info", "warning", "critical"]
AlertState = Literal["open", "acknowledged", "resolved"]
RuleSource = Literal["profile", "api"]
ParameterValue = bool | int | float | str

RULE_KINDS: Final = ("threshold", "rate_of_change", "stale", "window", "domain")
SEVERITIES: Final = ("info", "warning", "critical")
ALERT_STATES: Final = ("open", "acknowledged", "resolved")
# The actor recorded when the engine opens or resolves an alert by itself.
ENGINE_ACTOR: Final = "engine"


class RuleSpecError(HubError, ValueError):
    """A rule specification is invalid; ``field`` names the offending part."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """What a rule says. A rule targets a profile, optionally narrowed to one
    device or one district (not both). ``parameters`` depend on ``kind``; see
    ``docs/alerts.md``. Building one checks the parameters (RuleSpecError)."""

    name: str
    kind: RuleKind
    profile: str
    metric: str | None = None
    device_id: str | None = None
    district: str | None = None
    parameters: dict[str, ParameterValue] = field(default_factory=dict)
    severity: Severity = "warning"
    description: str | None = None
    enabled: bool = True

    def __post_init__(self) -> None:
        from hub.alerts.params import check_spec

        check_spec(self)


@dataclass(frozen=True, slots=True)
class Rule:
    """A stored rule; ``source`` is ``profile`` (read-only default) or ``api``."""

    id: int
    name: str
    kind: RuleKind
    profile: str
    metric: str | None
    device_id: str | None
    district: str | None
    parameters: dict[str, ParameterValue]
    severity: Severity
    description: str | None
    enabled: bool
    source: RuleSource
    created_at: datetime
    updated_at: datetime

    @property
    def spec(self) -> RuleSpec:
        return RuleSpec(
            name=self.name,
            kind=self.kind,
            profile=self.profile,
            metric=self.metric,
            device_id=self.device_id,
            district=self.district,
            parameters=dict(self.parameters),
            severity=self.severity,
            description=self.description,
            enabled=self.enabled,
        )

    def number(self, name: str, default: float) -> float:
        """A numeric parameter, or ``default`` when absent."""
        value = self.parameters.get(name)
        if value is None or isinstance(value, bool | str):
            return default
        return float(value)

    def optional(self, name: str) -> float | None:
        value = self.parameters.get(name)
        if value is None or isinstance(value, bool | str):
            return None
        return float(value)


@dataclass(frozen=True, slots=True)
class Alert:
    """One episode of a rule firing for one device."""

    id: int
    rule_id: int
    rule_name: str
    device_id: str
    profile: str
    district: str | None
    state: AlertState
    severity: Severity
    message: str
    value: float | None
    details: dict[str, Any]
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able fields (times as RFC 3339 strings)."""
        return {
            "id": self.id,
            "rule_id": self.rule_id,
            "rule_name": self.rule_name,
            "device_id": self.device_id,
            "profile": self.profile,
            "district": self.district,
            "state": self.state,
            "severity": self.severity,
            "message": self.message,
            "value": self.value,
            "details": self.details,
            "opened_at": _iso(self.opened_at),
            "acknowledged_at": _iso(self.acknowledged_at),
            "acknowledged_by": self.acknowledged_by,
            "resolved_at": _iso(self.resolved_at),
            "resolved_by": self.resolved_by,
        }


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One transition of an alert: when, to which state, by whom, with a note."""

    at: datetime
    state: AlertState
    actor: str
    note: str | None


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True, slots=True)
class AirQualityClass:
    """A monitor's latest hourly air-quality class (Norwegian classes), the worst of
    its pollutants, with the hourly means it was based on (ug/m3)."""

    device_id: str
    district: str | None
    hour: datetime
    class_name: str
    pollutants: dict[str, str]
    means: dict[str, float]
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    """One notification of one alert transition to one notifier."""

    id: int
    notifier: str
    event_id: int
    alert_id: int
    payload: dict[str, Any]
    state: Literal["pending", "delivered", "dead"]
    attempts: int
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None
