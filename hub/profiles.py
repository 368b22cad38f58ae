"""Device profiles: one YAML file per device type, loaded and checked at start-up.

A profile says which metrics a device type reports (unit, type, plausible range),
how often it reports, and which alert rules apply by default. The format is
described key by key in ``docs/device-profiles.md``. Any mistake in a file stops
:func:`load_profiles` with a :class:`~hub.errors.ProfileError` naming the file, the
field as a dotted path (``metrics.power.min``) and what is wrong.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    model_validator,
)

from hub.errors import ProfileError, RuleSpecError
from hub.model import RuleKind, RuleSpec, Severity
from hub.model.units import UNIT_CONVERSIONS
from hub.privacy.classes import DEFAULT_CLASS, DataClass

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
_NAME_RE = re.compile(NAME_PATTERN)

# Keys of the payload formats; a metric may not use them as its name.
RESERVED_METRIC_NAMES = frozenset({"ts", "metrics"})

# Units a profile may use: SenML codes (RFC 8428 and the RFC 8798 additions) and a
# few UCUM-style codes municipal meters report in. Value: what the code means.
KNOWN_UNITS: dict[str, str] = {
    "1": "dimensionless count or index",
    "/": "ratio (0-1)",
    "%": "percent",
    "%RH": "relative humidity, percent",
    "%EL": "remaining battery energy level, percent",
    "W": "watt",
    "kW": "kilowatt",
    "Wh": "watt-hour",
    "kWh": "kilowatt-hour",
    "V": "volt",
    "mV": "millivolt",
    "A": "ampere",
    "mA": "milliampere",
    "Cel": "degree Celsius",
    "K": "kelvin",
    "Pa": "pascal",
    "hPa": "hectopascal",
    "kPa": "kilopascal",
    "bar": "bar",
    "lx": "lux",
    "m": "metre",
    "cm": "centimetre",
    "mm": "millimetre",
    "m3": "cubic metre",
    "l": "litre",
    "m3/s": "cubic metres per second",
    "m3/h": "cubic metres per hour",
    "l/s": "litres per second",
    "l/min": "litres per minute",
    "l/h": "litres per hour",
    "ug/m3": "microgram per cubic metre",
    "mg/m3": "milligram per cubic metre",
    "ppm": "parts per million",
    "ppb": "parts per billion",
    "dB": "decibel",
    "dBm": "decibel-milliwatt",
    "s": "second",
    "h": "hour",
    "count": "number of events",
}

ParameterValue = StrictBool | StrictInt | StrictFloat | StrictStr


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Labels(_Frozen):
    """A text for people in each language of the dashboard: Norwegian bokmål and English."""

    nb: StrictStr
    en: StrictStr


class Metric(_Frozen):
    """One quantity a device reports."""

    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    unit: StrictStr
    label: Labels | None = Field(
        None, description="The metric's name for people (dashboard), in nb and en."
    )
    unit_label: Labels | None = Field(
        None,
        description="How the unit is written for people, in nb and en (°C for Cel); "
        "unset shows the unit code.",
    )
    type: Literal["float", "int", "bool"] = "float"
    kind: Literal["gauge", "counter"] = "gauge"
    min: StrictFloat | None = None
    max: StrictFloat | None = None
    description: Annotated[StrictStr, Field(min_length=1)]
    fiware: StrictStr | None = None
    # For a bool metric: the NGSI-LD values of false and true (e.g. off, on).
    fiware_values: tuple[StrictStr, StrictStr] | None = None


def shown_unit(metric: Metric | None) -> str:
    """The metric's unit as alert messages write it (English): its ``unit_label``,
    else its unit code; nothing for the counts "1" and "count"."""
    if metric is None:
        return ""
    if metric.unit_label is not None:
        return metric.unit_label.en
    return "" if metric.unit in ("1", "count") else metric.unit


class AlertRule(_Frozen):
    """A default alert rule; evaluated by the alert engine, only checked here."""

    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    kind: RuleKind
    metric: StrictStr | None = None
    parameters: dict[str, ParameterValue] = Field(default_factory=dict)
    severity: Severity = "warning"
    description: StrictStr = ""

    def spec(self, profile: str) -> RuleSpec:
        """This rule of ``profile`` as a rule specification (checks its parameters)."""
        return RuleSpec(
            name=self.name,
            kind=self.kind,
            profile=profile,
            metric=self.metric,
            parameters=dict(self.parameters),
            severity=self.severity,
            description=self.description or None,
        )


class MetricSimulation(_Frozen):
    """How the generic simulator draws one metric (see docs/simulators.md)."""

    baseline: StrictFloat = 0.0
    daily_amplitude: StrictFloat = 0.0
    peak_hour: Annotated[StrictFloat, Field(ge=0, lt=24)] = 14.0
    noise: Annotated[StrictFloat, Field(ge=0)] = 0.0
    rate_per_h: Annotated[StrictFloat, Field(ge=0)] = 0.0
    decimals: Annotated[StrictInt, Field(ge=0, le=6)] = 2


class Simulation(_Frozen):
    """Hints for ``simulators/``; the hub itself ignores them."""

    model: Literal["generic", "street_light", "water_meter", "air_quality"] = "generic"
    payload_format: Literal["flat", "metrics", "senml", "mixed"] = "mixed"
    metrics: dict[str, MetricSimulation] = Field(default_factory=dict)


FIELD_PATH_PATTERN = r"^[A-Za-z0-9_-]{1,64}(\.[A-Za-z0-9_-]{1,64}){0,7}$"


class DecodedField(_Frozen):
    """Where one metric comes from in a network server's decoded payload."""

    metric: Annotated[str, Field(pattern=NAME_PATTERN)]
    scale: StrictFloat | StrictInt = 1.0
    unit: StrictStr | None = None
    values: dict[str, StrictFloat | StrictInt | StrictBool] | None = None


class Decoded(_Frozen):
    """Mapping of a network server's decoded payload (The Things Stack
    ``decoded_payload``, ChirpStack ``object``) onto the profile's metrics.

    ``fields`` maps a dotted path into the payload (``air_temperature.value``) to a
    metric, optionally with a scale (the value is multiplied by it first) and the
    unit the payload gives it in (converted to the metric's unit as SenML units
    are), or, for a field that holds words (``"on"``/``"off"``), the number each
    word stands for (``values``). ``time`` names the path of the reading's own time, when the payload has
    one; otherwise the network server's receive time is used."""

    time: Annotated[str, Field(pattern=FIELD_PATH_PATTERN)] | None = None
    fields: Annotated[dict[str, DecodedField], Field(min_length=1)]

    @model_validator(mode="before")
    @classmethod
    def _short_fields(cls, data: Any) -> Any:
        # ``path: metric`` is short for ``path: {metric: metric}``.
        if isinstance(data, dict) and isinstance(data.get("fields"), dict):
            fields = {
                key: {"metric": body} if isinstance(body, str) else body
                for key, body in data["fields"].items()
            }
            data = {**data, "fields": fields}
        return data


class Profile(_Frozen):
    """A device type: its metrics, reporting interval and default alert rules."""

    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    description: Annotated[StrictStr, Field(min_length=1)]
    # Who may read this type's data (docs/privacy.md); a device may override it.
    data_class: DataClass = DEFAULT_CLASS
    fiware_type: StrictStr | None = None
    # Static NGSI-LD attributes of every entity of this profile, and of its Device entity.
    fiware_attributes: dict[str, ParameterValue | tuple[StrictStr, ...]] = Field(
        default_factory=dict
    )
    fiware_device_attributes: dict[str, ParameterValue | tuple[StrictStr, ...]] = Field(
        default_factory=dict
    )
    expected_interval_s: Annotated[StrictInt, Field(gt=0)]
    offline_factor: Annotated[StrictFloat, Field(ge=1)] = 3.0
    receive_time_fallback: StrictBool = False
    metrics: Annotated[dict[str, Metric], Field(min_length=1)]
    alert_rules: tuple[AlertRule, ...] = ()
    decoded: Decoded | None = None
    simulation: Simulation | None = None

    @model_validator(mode="before")
    @classmethod
    def _name_metrics_from_keys(cls, data: Any) -> Any:
        # In YAML a metric's name is its key; copy it in so Metric carries it.
        if isinstance(data, dict) and isinstance(data.get("metrics"), dict):
            metrics = {}
            for key, body in data["metrics"].items():
                metrics[key] = {"name": key, **body} if isinstance(body, dict) else body
            data = {**data, "metrics": metrics}
        return data

    @property
    def offline_after_s(self) -> float:
        """Seconds without data after which a device of this type counts as offline."""
        return self.expected_interval_s * self.offline_factor


def load_profiles(directory: Path) -> dict[str, Profile]:
    """Load every ``*.yaml`` profile in ``directory``, keyed by profile name.

    Raises ProfileError for the first mistake found (files are read in name order).
    """
    if not directory.is_dir():
        raise ProfileError(str(directory), "(directory)", "is not a directory")
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    if not files:
        raise ProfileError(str(directory), "(directory)", "holds no *.yaml profile files")
    profiles: dict[str, Profile] = {}
    for path in files:
        profile = load_profile(path)
        if profile.name in profiles:
            raise ProfileError(str(path), "name", f"profile {profile.name!r} is defined twice")
        profiles[profile.name] = profile
    return profiles


def load_profile(path: Path) -> Profile:
    """Load and check one profile file; its ``name`` must equal the file stem."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(file, "(file)", f"cannot be read: {exc}") from None
    data = _parse_yaml(file, text)
    if not isinstance(data, dict):
        raise ProfileError(file, "(file)", "must be a YAML mapping of keys to values")
    try:
        profile = Profile.model_validate(data)
    except ValidationError as exc:
        field, message = _describe(exc)
        raise ProfileError(file, field, message) from None
    if profile.name != path.stem:
        raise ProfileError(file, "name", f"must equal the file name {path.stem!r}")
    _check_semantics(file, profile)
    return profile


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a key given twice in one mapping."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.MarkedYAMLError(
                problem=f"duplicate key {key!r}", problem_mark=key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def _parse_yaml(file: str, text: str) -> Any:
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}" if mark is not None else "(yaml)"
        raise ProfileError(file, where, f"invalid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise ProfileError(file, "(yaml)", f"invalid YAML: {exc}") from None


_ALLOWED_KEYS: dict[str, tuple[str, ...]] = {
    "": tuple(Profile.model_fields),
    "metrics": tuple(Metric.model_fields),
    "alert_rules": tuple(AlertRule.model_fields),
    "simulation": tuple(Simulation.model_fields),
    "simulation.metrics": tuple(MetricSimulation.model_fields),
    "decoded": tuple(Decoded.model_fields),
    "decoded.fields": tuple(DecodedField.model_fields),
}


def _describe(exc: ValidationError) -> tuple[str, str]:
    """Turn pydantic's first error into (dotted field, plain message)."""
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"]]
    field = ".".join(loc) or "(file)"
    kind = error["type"]
    if kind == "extra_forbidden":
        # Offer the closest allowed key: most unknown keys are typos.
        context = ".".join(p for p in loc[:-1] if not p.isdigit() and not _is_metric_key(loc, p))
        allowed = _ALLOWED_KEYS.get(context, ())
        close = difflib.get_close_matches(loc[-1], allowed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return field, f"unknown key{hint} (allowed: {', '.join(allowed)})"
    if kind == "missing":
        return field, "is required"
    message = error["msg"]
    if kind.startswith("literal_"):
        return field, message.replace("Input should be", "must be")
    return field, f"{message} (got {error.get('input')!r})"


def _is_metric_key(loc: list[str], part: str) -> bool:
    # The key under metrics: or simulation.metrics: is a user-chosen metric name.
    index = loc.index(part)
    return index > 0 and loc[index - 1] == "metrics"


def _check_semantics(file: str, profile: Profile) -> None:
    """Checks that span fields: units, ranges, reserved names, rule references."""
    for name, metric in profile.metrics.items():
        where = f"metrics.{name}"
        if name in RESERVED_METRIC_NAMES:
            raise ProfileError(file, where, f"{name!r} is reserved by the payload formats")
        if metric.unit not in KNOWN_UNITS:
            same_letters = [u for u in KNOWN_UNITS if u.lower() == metric.unit.lower()]
            close = same_letters or difflib.get_close_matches(metric.unit, KNOWN_UNITS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ProfileError(
                file, f"{where}.unit", f"unknown unit {metric.unit!r}{hint} (see docs)"
            )
        if metric.min is not None and metric.max is not None and metric.min > metric.max:
            raise ProfileError(
                file, f"{where}.min", f"min {metric.min} is greater than max {metric.max}"
            )
        if metric.kind == "counter" and metric.type == "bool":
            raise ProfileError(file, f"{where}.kind", "a counter cannot be of type bool")
    rule_names: set[str] = set()
    for index, rule in enumerate(profile.alert_rules):
        where = f"alert_rules.{index}"
        if rule.name in rule_names:
            raise ProfileError(file, f"{where}.name", f"rule name {rule.name!r} is used twice")
        rule_names.add(rule.name)
        _check_rule(file, where, rule, profile)
    if profile.decoded is not None:
        _check_decoded(file, profile.decoded, profile)
    if profile.simulation is not None:
        for name in profile.simulation.metrics:
            if name not in profile.metrics:
                raise ProfileError(
                    file, f"simulation.metrics.{name}", "names a metric the profile lacks"
                )


def _check_decoded(file: str, decoded: Decoded, profile: Profile) -> None:
    for path, spec in decoded.fields.items():
        where = f"decoded.fields.{path}"
        if not re.fullmatch(FIELD_PATH_PATTERN, path):
            raise ProfileError(file, where, "must be a dotted path of names (a.b.c)")
        metric = profile.metrics.get(spec.metric)
        if metric is None:
            raise ProfileError(
                file, f"{where}.metric", f"{spec.metric!r} is not a metric of this profile"
            )
        if spec.unit is not None and spec.unit != metric.unit:
            if spec.unit not in KNOWN_UNITS:
                raise ProfileError(file, f"{where}.unit", f"unknown unit {spec.unit!r} (see docs)")
            if (spec.unit, metric.unit) not in UNIT_CONVERSIONS:
                raise ProfileError(
                    file,
                    f"{where}.unit",
                    f"cannot convert {spec.unit!r} to {metric.unit!r} ({spec.metric}'s unit)",
                )
        if spec.scale == 0:
            raise ProfileError(file, f"{where}.scale", "must not be 0")


def _check_rule(file: str, where: str, rule: AlertRule, profile: Profile) -> None:
    if rule.metric is None:
        if rule.kind != "stale":
            raise ProfileError(file, f"{where}.metric", f"is required for a {rule.kind} rule")
    elif rule.metric not in profile.metrics:
        raise ProfileError(
            file, f"{where}.metric", f"{rule.metric!r} is not a metric of this profile"
        )
    # The parameter tables of every rule kind are hub/model/rule_params.py: one
    # source for profile defaults and API rules.
    try:
        rule.spec(profile.name)
    except RuleSpecError as exc:
        raise ProfileError(file, f"{where}.{exc.field}", exc.message) from None
