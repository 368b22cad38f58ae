"""A rule specification checked against the device profiles: the profile and
every metric it names must exist. What a rule may say on its own is checked in
:mod:`hub.model.rule_params` when the spec is built."""

from __future__ import annotations

from collections.abc import Mapping

from hub.errors import RuleSpecError
from hub.model.rules import RuleSpec
from hub.profiles import Profile


def check_against_profiles(spec: RuleSpec, profiles: Mapping[str, Profile]) -> None:
    """Raise RuleSpecError if the profile or a metric the rule names is unknown."""
    profile = profiles.get(spec.profile)
    if profile is None:
        raise RuleSpecError(
            "profile", f"unknown profile {spec.profile!r} (known: {', '.join(sorted(profiles))})"
        )
    metrics = [spec.metric] if spec.metric is not None else []
    dim_metric = spec.parameters.get("dim_metric")
    if spec.parameters.get("check") == "power_band":
        metrics.append(dim_metric if isinstance(dim_metric, str) else "dim_level")
    for metric in metrics:
        if metric not in profile.metrics:
            field = "metric" if metric == spec.metric else "parameters.dim_metric"
            raise RuleSpecError(
                field,
                f"{metric!r} is not a metric of {spec.profile} "
                f"(metrics: {', '.join(profile.metrics)})",
            )
