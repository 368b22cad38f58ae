"""`hub run`'s check of the roles: an alert engine that could see no readings is
refused at start, with the variable that fixes it."""

from __future__ import annotations

import pytest

from hub.commands.service import check_roles
from hub.config import load_settings
from hub.errors import ConfigError


def test_an_engine_without_the_ingest_needs_the_readings_channel() -> None:
    with pytest.raises(ConfigError) as refused:
        check_roles(load_settings(roles="api,alerts", readings_notify=False))
    assert refused.value.variable == "HUB_READINGS_NOTIFY"
    check_roles(load_settings(roles="api,alerts", readings_notify=True))


@pytest.mark.parametrize(
    ("roles", "alerts_enabled"), [("ingest,alerts", True), ("api", True), ("api,alerts", False)]
)
def test_other_roles_start_without_the_channel(roles: str, alerts_enabled: bool) -> None:
    check_roles(load_settings(roles=roles, alerts_enabled=alerts_enabled, readings_notify=False))
