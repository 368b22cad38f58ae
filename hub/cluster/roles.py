"""The roles of this process in /metrics."""

from __future__ import annotations

from prometheus_client import Gauge

from hub.config import ROLES, Settings

ROLE = Gauge("hub_process_role", "1 for each role this process runs (HUB_ROLES)", ["role"])


def announce(settings: Settings) -> None:
    for role in sorted(ROLES):
        ROLE.labels(role).set(1 if settings.has_role(role) else 0)
