"""Alert and rule schemas of the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.model import Alert, AlertEvent, AlertNote, Rule

AlertState = Literal["open", "acknowledged", "resolved"]
Severity = Literal["info", "warning", "critical"]
RuleKind = Literal["threshold", "rate_of_change", "stale", "window", "domain"]
ParameterValue = bool | int | float | str


class AlertOut(BaseModel):
    """One episode of a rule firing for one device."""

    id: int = Field(examples=[17])
    rule_id: int
    rule_name: str = Field(examples=["lamp_outage"])
    device_id: str = Field(examples=["sl-0042"])
    profile: str
    district: str | None
    state: AlertState
    severity: Severity
    message: str = Field(examples=["lamp dark after dusk for 20 min"])
    value: float | None = Field(description="The value that fired the rule, if any.")
    details: dict[str, Any]
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    assignee: str | None = Field(
        None, description="The person or crew working on it.", examples=["Feltlag nord"]
    )
    assigned_at: datetime | None = None

    @classmethod
    def of(cls, a: Alert) -> AlertOut:
        return cls(
            id=a.id,
            rule_id=a.rule_id,
            rule_name=a.rule_name,
            device_id=a.device_id,
            profile=a.profile,
            district=a.district,
            state=a.state,
            severity=a.severity,
            message=a.message,
            value=a.value,
            details=a.details,
            opened_at=a.opened_at,
            acknowledged_at=a.acknowledged_at,
            acknowledged_by=a.acknowledged_by,
            resolved_at=a.resolved_at,
            resolved_by=a.resolved_by,
            assignee=a.assignee,
            assigned_at=a.assigned_at,
        )


class AlertEventOut(BaseModel):
    at: datetime
    state: AlertState
    actor: str = Field(description="`engine`, or the API key that made the change.")
    note: str | None

    @classmethod
    def of(cls, e: AlertEvent) -> AlertEventOut:
        return cls(at=e.at, state=e.state, actor=e.actor, note=e.note)


class NoteOut(BaseModel):
    id: int
    at: datetime
    author: str = Field(description="The API key that added it.")
    text: str

    @classmethod
    def of(cls, n: AlertNote) -> NoteOut:
        return cls(id=n.id, at=n.at, author=n.author, text=n.text)


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=4000, examples=["Lamp replaced, driver next week"])


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee: str | None = Field(
        min_length=1,
        max_length=200,
        description="A person or crew, as the department names them; null takes it back.",
        examples=["Feltlag nord"],
    )


class AlertDetail(AlertOut):
    history: list[AlertEventOut] = Field(description="Every transition, oldest first.")
    notes: list[NoteOut] = Field(default_factory=list, description="Notes, oldest first.")


class AlertPage(BaseModel):
    items: list[AlertOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


class AlertAction(BaseModel):
    """An operator's acknowledgement or resolution."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"note": "crew sent, ticket 4411"}]}
    )

    note: str | None = Field(None, max_length=2000, description="Kept in the alert's history.")


class RuleIn(BaseModel):
    """An alert rule. It targets a profile, optionally narrowed to one device or one
    district (not both). The parameters depend on the kind (see docs/alerts.md)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "high_pm25",
                    "kind": "threshold",
                    "profile": "air_quality",
                    "metric": "pm25",
                    "district": "Sentrum",
                    "parameters": {"above": 25, "for_s": 3600, "hysteresis": 5},
                    "severity": "warning",
                    "description": "PM2.5 above 25 µg/m³ for an hour",
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=100)
    kind: RuleKind
    profile: str = Field(min_length=1, max_length=63)
    metric: str | None = Field(None, max_length=63)
    device_id: str | None = Field(None, pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    district: str | None = Field(None, min_length=1, max_length=200)
    parameters: dict[str, ParameterValue] = Field(default_factory=dict)
    severity: Severity = "warning"
    description: str | None = Field(None, max_length=2000)
    enabled: bool = True


class RuleOut(BaseModel):
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
    source: Literal["profile", "api"] = Field(
        description="`profile`: a read-only default from the profile file; `api`: made here."
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, r: Rule) -> RuleOut:
        return cls(
            id=r.id,
            name=r.name,
            kind=r.kind,
            profile=r.profile,
            metric=r.metric,
            device_id=r.device_id,
            district=r.district,
            parameters=dict(r.parameters),
            severity=r.severity,
            description=r.description,
            enabled=r.enabled,
            source=r.source,
            created_at=r.created_at,
            updated_at=r.updated_at,
        )
