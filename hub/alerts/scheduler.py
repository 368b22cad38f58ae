"""Scheduled rules (window, stale, domain) and the air-quality classes: one run
over every rule every ``HUB_ALERTS_INTERVAL_S``. The rules themselves are in
:mod:`hub.alerts.scheduled`; this keeps what they learn between runs."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime

from hub.alerts import metrics, scheduled
from hub.alerts.lifecycle import Lifecycle
from hub.alerts.rulebook import POINT_KINDS, RuleBook, targets
from hub.config import Settings
from hub.profiles import Profile
from hub.store.db import CONNECTION_ERRORS, AsyncConn

log = logging.getLogger(__name__)


class Scheduler:
    """Runs the scheduled rules; keeps the lamps' learned power and the last saved
    air-quality hour between runs."""

    def __init__(
        self,
        settings: Settings,
        book: RuleBook,
        lifecycle: Lifecycle,
        profiles: Mapping[str, Profile],
        clock: Callable[[], datetime],
    ) -> None:
        self._book = book
        self._lifecycle = lifecycle
        self._profiles = profiles
        self._clock = clock
        self._timezone = settings.timezone
        site = (settings.alerts_site_lat, settings.alerts_site_lon)
        self._site = (site[0], site[1]) if site[0] is not None and site[1] is not None else None
        self._references: dict[int, tuple[datetime, dict[int, float]]] = {}
        self._aq_saved: dict[int, datetime] = {}
        self._unplaced: set[str] = set()

    def forget(self, rule_id: int) -> None:
        """One rule changed: what it learned goes."""
        self._references.pop(rule_id, None)

    async def run_once(self, conn: AsyncConn) -> int:
        """One run of every window, stale and domain rule; returns alerts changed.
        The caller has loaded the rule book."""
        ctx = scheduled.Context(
            lifecycle=self._lifecycle,
            profiles=self._profiles,
            timezone=self._timezone,
            site=self._site,
            now=self._clock(),
            references=self._references,
            unplaced=self._unplaced,
        )
        devices = list(self._book.devices.values())
        changed = 0
        for rule in list(self._book.rules.values()):
            if rule.kind in POINT_KINDS:
                continue
            try:
                matching = [d for d in devices if targets(rule, d)]
                changed += await scheduled.evaluate(conn, ctx, rule, matching)
            except CONNECTION_ERRORS:
                raise
            except Exception:  # one broken rule must not stop the others
                metrics.RULE_ERRORS.labels(rule.kind).inc()
                log.exception("alert rule %d (%s) failed", rule.id, rule.name)
        try:
            await scheduled.update_air_quality(conn, self._profiles, devices, self._aq_saved)
        except CONNECTION_ERRORS:
            raise
        except Exception:
            log.exception("air-quality classes failed")
        return changed
