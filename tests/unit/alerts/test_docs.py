"""docs/alerts.md stays true: every rule parameter, domain check, alert setting
and air-quality bound in the code is documented there."""

from __future__ import annotations

from hub.alerts.domain.airquality import CLASS_BOUNDS
from hub.config import Settings
from hub.model.rule_params import DOMAIN_CHECKS, KIND_PARAMETERS
from tests.repo import REPO

DOC = (REPO / "docs" / "alerts.md").read_text()


def test_every_rule_kind_check_and_parameter_is_documented() -> None:
    names = set(KIND_PARAMETERS) | set(DOMAIN_CHECKS)
    for parameters in [*KIND_PARAMETERS.values(), *DOMAIN_CHECKS.values()]:
        names |= set(parameters)
    missing = sorted(n for n in names if f"`{n}`" not in DOC)
    assert not missing, f"not in docs/alerts.md: {missing}"


def test_every_alert_setting_is_documented() -> None:
    settings = [
        f"HUB_{name.upper()}" for name in Settings.model_fields if name.startswith("alerts_")
    ]
    assert settings
    missing = [s for s in settings if f"`{s}`" not in DOC]
    assert not missing, f"not in docs/alerts.md: {missing}"


def test_air_quality_class_bounds_match_the_documented_table() -> None:
    rows = {"pm10": "PM10", "pm25": "PM2.5", "no2": "NO2", "o3": "O3"}
    for pollutant, (low, moderate, high) in CLASS_BOUNDS.items():
        row = f"| {rows[pollutant]} | 0-{low:g} | {low:g}-{moderate:g} | {moderate:g}-{high:g} | above {high:g} |"
        assert row in DOC, row
