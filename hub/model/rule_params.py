"""What a rule may say: its kinds and severities, which parameters each kind (and
each domain check) takes, and the checks a rule specification must pass on its own.

The tables here are the single source for validation and for ``docs/alerts.md``.
:func:`check_spec` needs nothing but the spec (it runs when a RuleSpec is built);
``hub.alerts.params.check_against_profiles`` also needs the device profiles. Device
profiles check their default rules with the same function, by building RuleSpecs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Literal

from hub.errors import RuleSpecError

if TYPE_CHECKING:
    from hub.model.rules import RuleSpec

RuleKind = Literal["threshold", "rate_of_change", "stale", "window", "domain"]
Severity = Literal["info", "warning", "critical"]
RULE_KINDS: Final = ("threshold", "rate_of_change", "stale", "window", "domain")
SEVERITIES: Final = ("info", "warning", "critical")

_NUM: Final = "number"
_INT: Final = "integer"
_BOOL: Final = "boolean"
_TEXT: Final = "text"

# kind -> {parameter: type}, and groups of which at least one must be given.
KIND_PARAMETERS: Final[dict[str, dict[str, str]]] = {
    "threshold": {"above": _NUM, "below": _NUM, "for_s": _NUM, "hysteresis": _NUM},
    "rate_of_change": {"max_rise_per_h": _NUM, "max_fall_per_h": _NUM, "window_s": _NUM},
    "stale": {"factor": _NUM},
    "window": {
        "aggregate": _TEXT,
        "window_s": _NUM,
        "above": _NUM,
        "below": _NUM,
        "local_day": _BOOL,
        "hysteresis": _NUM,
    },
    "domain": {"check": _TEXT},
}
REQUIRED_GROUPS: Final[dict[str, tuple[tuple[str, ...], ...]]] = {
    "threshold": (("above", "below"),),
    "rate_of_change": (("max_rise_per_h", "max_fall_per_h"),),
    "stale": (),
    "window": (("aggregate",), ("above", "below")),
    "domain": (("check",),),
}
WINDOW_AGGREGATES: Final = ("mean", "min", "max", "sum")

# Domain check -> {parameter: type}; required parameters; its domain (docs).
DOMAIN_CHECKS: Final[dict[str, dict[str, str]]] = {
    "night_flow": {"min_flow": _NUM, "start_hour": _NUM, "end_hour": _NUM, "nights": _INT},
    "register_backflow": {"min_drop": _NUM},
    "day_burner": {"sun_elevation_deg": _NUM, "for_s": _NUM, "power_above": _NUM},
    "lamp_outage": {"sun_elevation_deg": _NUM, "power_below": _NUM, "for_s": _NUM},
    "power_band": {
        "tolerance": _NUM,
        "rated_w": _NUM,
        "min_ratio": _NUM,
        "for_s": _NUM,
        "dim_metric": _TEXT,
    },
    "cycling": {"max_switches_per_h": _NUM},
    "hourly_limit": {"above": _NUM, "allowed_per_year": _INT},
}
DOMAIN_REQUIRED: Final[dict[str, tuple[str, ...]]] = {"hourly_limit": ("above",)}
_NON_NEGATIVE: Final = frozenset(
    {"for_s", "hysteresis", "window_s", "min_flow", "min_drop", "power_below", "power_above"}
)
_POSITIVE: Final = frozenset(
    {"max_rise_per_h", "max_fall_per_h", "nights", "max_switches_per_h", "rated_w", "tolerance"}
)
MAX_NAME_LENGTH: Final = 100


def allowed_parameters(kind: str, check: str | None) -> dict[str, str]:
    allowed = dict(KIND_PARAMETERS.get(kind, {}))
    if kind == "domain" and check in DOMAIN_CHECKS:
        allowed.update(DOMAIN_CHECKS[check])
    return allowed


def check_spec(spec: RuleSpec) -> None:
    """Raise RuleSpecError for the first thing wrong with ``spec`` on its own."""
    name = spec.name.strip() if isinstance(spec.name, str) else ""
    if not name or len(spec.name) > MAX_NAME_LENGTH or not spec.name.isprintable():
        raise RuleSpecError("name", f"must be 1-{MAX_NAME_LENGTH} printable characters")
    if spec.kind not in RULE_KINDS:
        raise RuleSpecError("kind", f"must be one of {', '.join(RULE_KINDS)}")
    if spec.severity not in SEVERITIES:
        raise RuleSpecError("severity", f"must be one of {', '.join(SEVERITIES)}")
    if not spec.profile:
        raise RuleSpecError("profile", "is required")
    if spec.device_id is not None and spec.district is not None:
        raise RuleSpecError("district", "a rule targets one device or one district, not both")
    if spec.metric is None and spec.kind != "stale":
        raise RuleSpecError("metric", f"is required for a {spec.kind} rule")
    params = spec.parameters
    check = params.get("check")
    if spec.kind == "domain" and check is not None and check not in DOMAIN_CHECKS:
        raise RuleSpecError(
            "parameters.check", f"must be one of {', '.join(sorted(DOMAIN_CHECKS))}"
        )
    allowed = allowed_parameters(spec.kind, check if isinstance(check, str) else None)
    for key, value in params.items():
        where = f"parameters.{key}"
        if key not in allowed:
            raise RuleSpecError(
                where, f"unknown parameter for this rule (allowed: {', '.join(allowed)})"
            )
        _check_type(where, allowed[key], value)
        if key in _NON_NEGATIVE and float(value) < 0:
            raise RuleSpecError(where, "must not be negative")
        if key in _POSITIVE and float(value) <= 0:
            raise RuleSpecError(where, "must be above 0")
    groups = list(REQUIRED_GROUPS[spec.kind])
    if spec.kind == "domain" and isinstance(check, str):
        groups += [(p,) for p in DOMAIN_REQUIRED.get(check, ())]
    if spec.kind == "window" and not params.get("local_day"):
        groups.append(("window_s",))
    for group in groups:
        if not any(p in params for p in group):
            raise RuleSpecError("parameters", f"this rule needs {' or '.join(group)}")
    _check_values(spec)


def _check_type(where: str, expected: str, value: object) -> None:
    if expected == _BOOL:
        ok = isinstance(value, bool)
    elif expected == _TEXT:
        ok = isinstance(value, str)
    elif expected == _INT:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        ok = ok and value == value and abs(float(value)) != float("inf")  # type: ignore[arg-type]
    if not ok:
        raise RuleSpecError(where, f"must be a {expected} (got {value!r})")


def _check_values(spec: RuleSpec) -> None:
    params = spec.parameters
    aggregate = params.get("aggregate")
    if aggregate is not None and aggregate not in WINDOW_AGGREGATES:
        raise RuleSpecError(
            "parameters.aggregate", f"must be one of {', '.join(WINDOW_AGGREGATES)}"
        )
    for key in ("start_hour", "end_hour"):
        hour = params.get(key)
        if hour is not None and not 0 <= float(hour) < 24:
            raise RuleSpecError(f"parameters.{key}", "must be an hour from 0 to 23")
    window_s = params.get("window_s")
    if spec.kind == "window" and window_s is not None and float(window_s) < 60:
        raise RuleSpecError("parameters.window_s", "must be at least 60 seconds")
    factor = params.get("factor")
    if factor is not None and float(factor) < 1:
        raise RuleSpecError("parameters.factor", "must be at least 1")
    above, below = params.get("above"), params.get("below")
    if above is not None and below is not None and float(below) >= float(above):
        raise RuleSpecError("parameters.below", "must be lower than above")
    tolerance = params.get("tolerance")
    if tolerance is not None and float(tolerance) >= 1:
        raise RuleSpecError("parameters.tolerance", "is a fraction: must be below 1")
    ratio = params.get("min_ratio")
    if ratio is not None and not 0 <= float(ratio) < 1:
        raise RuleSpecError("parameters.min_ratio", "is a fraction: must be from 0 to below 1")
