"""Alert rules: what a rule says (:class:`RuleSpec`, from a profile or the API) and
a stored one (:class:`Rule`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Literal

from hub.model.rule_params import RuleKind, Severity, check_spec

AlertState = Literal["open", "acknowledged", "resolved"]
RuleSource = Literal["profile", "api"]
ParameterValue = bool | int | float | str

ALERT_STATES: Final = ("open", "acknowledged", "resolved")
# The actor recorded when the engine opens or resolves an alert by itself.
ENGINE_ACTOR: Final = "engine"


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
