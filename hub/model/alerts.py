"""Alerts: one episode of a rule firing for one device, its transitions, the
notifications of them, and the air-quality classes the domain checks keep."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from hub.model.rule_params import Severity
from hub.model.rules import AlertState


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
    assignee: str | None = None
    assigned_at: datetime | None = None

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
            "assignee": self.assignee,
            "assigned_at": _iso(self.assigned_at),
        }


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One transition of an alert: when, to which state, by whom, with a note."""

    at: datetime
    state: AlertState
    actor: str
    note: str | None


@dataclass(frozen=True, slots=True)
class AlertNote:
    """A note someone added to an alert while working on it."""

    id: int
    at: datetime
    author: str
    text: str


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
