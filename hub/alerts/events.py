"""Alert changes as events on the hub's bus (for the live stream)."""

from __future__ import annotations

from hub.events import Event
from hub.model import Alert


def alert_event(alert: Alert) -> Event:
    """The bus event for an alert's current state, stamped with its last transition."""
    at = alert.resolved_at or alert.acknowledged_at or alert.opened_at
    return Event("alert", alert.device_id, alert.profile, at, alert.as_dict())
