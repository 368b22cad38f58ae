"""Turning verdicts into alert transitions, once per rule and device.

The database is the truth: the partial unique index allows one unresolved alert
per rule and device, and every transition is an ``alert_events`` row. The
:class:`Lifecycle` keeps a cache of the unresolved alerts (refreshed on every
scheduled run, so operator changes through the API are seen within one interval)
to avoid a query per reading.

An alert an operator resolved while its condition still held is not opened again
for the same episode: it opens again once the condition has been seen clear, or
for a condition that started after the resolution.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from hub.alerts import metrics
from hub.alerts.conditions import Verdict
from hub.alerts.events import alert_event
from hub.events import EventBus
from hub.model import Alert, DeviceRow, Rule
from hub.store import alerts as store
from hub.store.db import AsyncConn

log = logging.getLogger(__name__)

Key = tuple[int, int]  # (rule id, device key)


class Lifecycle:
    """Opens and resolves alerts from verdicts, publishing each change.

    Args:
        bus: where alert changes are published (the live stream).
        on_change: called after every transition (wakes the notifiers).
    """

    def __init__(self, bus: EventBus, *, on_change: Callable[[], None] | None = None) -> None:
        self._bus = bus
        self._on_change = on_change
        self.unresolved: dict[Key, int] = {}
        # (rule, device) -> when an operator last resolved one of its alerts (a cache).
        self._resolutions: dict[Key, datetime | None] = {}
        # Keys held back after an operator resolution, and when each was seen clear.
        self._held: set[Key] = set()
        self._cleared_at: dict[Key, datetime] = {}

    async def refresh(self, conn: AsyncConn) -> None:
        """Re-read the unresolved alerts (operators may have resolved some)."""
        self.unresolved = await store.unresolved_alerts(conn)
        self._resolutions.clear()

    def is_open(self, rule: Rule, device: DeviceRow) -> bool:
        return (rule.id, device.pk) in self.unresolved

    def acts_on(self, rule: Rule, device: DeviceRow, verdict: Verdict | None) -> bool:
        """Whether :meth:`apply` could change anything (a cheap test for the hot path)."""
        if verdict is None or verdict.firing is None:
            return False
        key = (rule.id, device.pk)
        if verdict.firing:
            return key not in self.unresolved
        return key in self.unresolved or key in self._held

    async def apply(
        self, conn: AsyncConn, rule: Rule, device: DeviceRow, verdict: Verdict | None
    ) -> Alert | None:
        """Open or resolve as the verdict says; the changed alert, if any."""
        if verdict is None or verdict.firing is None:
            return None
        key = (rule.id, device.pk)
        alert_id = self.unresolved.get(key)
        if verdict.firing:
            if alert_id is not None or await self._suppress(conn, key, verdict):
                return None
            return await self._open(conn, rule, device, verdict)
        if key in self._held:
            self._held.discard(key)
            self._cleared_at[key] = datetime.now(UTC)
        if alert_id is None:
            return None
        del self.unresolved[key]
        details = {
            "cleared_at": verdict.at.isoformat(),
            "cleared_value": verdict.value,
            "cleared_because": verdict.message,
        }
        alert = await store.resolve_by_engine(
            conn, alert_id, note=verdict.message or "condition cleared", details=details
        )
        if alert is not None:
            self._changed(rule, alert)
        return alert

    async def resolve_for_disabled_rule(self, conn: AsyncConn, rule_id: int) -> int:
        """Resolve the unresolved alerts of a rule that was disabled."""
        resolved = 0
        for key, alert_id in list(self.unresolved.items()):
            if key[0] != rule_id:
                continue
            del self.unresolved[key]
            alert = await store.resolve_by_engine(conn, alert_id, note="rule disabled")
            if alert is not None:
                resolved += 1
                self._bus.publish(alert_event(alert))
        if resolved and self._on_change is not None:
            self._on_change()
        return resolved

    async def _suppress(self, conn: AsyncConn, key: Key, verdict: Verdict) -> bool:
        """Hold back an alert an operator resolved while its condition still held,
        until the condition is seen clear (or began after the resolution)."""
        if key not in self._resolutions:
            self._resolutions[key] = await store.last_operator_resolution(conn, *key)
        if not held_back(self._resolutions[key], verdict.since, self._cleared_at.get(key)):
            return False
        self._held.add(key)
        return True

    async def _open(
        self, conn: AsyncConn, rule: Rule, device: DeviceRow, verdict: Verdict
    ) -> Alert | None:
        details: dict[str, Any] = {
            "rule_kind": rule.kind,
            "metric": rule.metric,
            "observed_at": verdict.at.isoformat(),
            **verdict.details,
        }
        if verdict.since is not None:
            details["since"] = verdict.since.isoformat()
        alert = await store.open_alert(
            conn,
            rule_id=rule.id,
            device=device.pk,
            severity=rule.severity,
            message=f"{rule.name}: {verdict.message}" if verdict.message else rule.name,
            value=verdict.value,
            details=_jsonable(details),
        )
        if alert is None:  # another hub process opened it first
            self.unresolved = await store.unresolved_alerts(conn)
            return None
        self.unresolved[(rule.id, device.pk)] = alert.id
        self._cleared_at.pop((rule.id, device.pk), None)
        self._changed(rule, alert)
        log.info(
            "alert opened: %s",
            alert.message,
            extra={"device_id": device.device_id, "alert_id": alert.id},
        )
        return alert

    def _changed(self, rule: Rule, alert: Alert) -> None:
        metrics.TRANSITIONS.labels(rule.kind, alert.state).inc()
        self._bus.publish(alert_event(alert))
        if self._on_change is not None:
            self._on_change()


def held_back(
    resolved_at: datetime | None, since: datetime | None, cleared_at: datetime | None
) -> bool:
    """Whether a firing condition stays held back: an operator resolved its alert
    (at ``resolved_at``) while the condition already held (it began at ``since``,
    when known), and the condition has not been seen clear since (``cleared_at``)."""
    if resolved_at is None:
        return False
    if since is not None and since > resolved_at:
        return False
    return cleared_at is None or cleared_at <= resolved_at


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and value != value:
        return None
    return value
