"""The alert engine: loads the rules, evaluates them, and keeps alerts in step.

    bus (committed readings) --bounded buffer--> point rules (threshold, rate)
    schedule (every alerts_interval_s) --------> window, stale, domain rules
                                                  air-quality classes
    both --> Lifecycle (open/resolve, bus events) --> outbox --> Dispatcher

The ingest never waits for the engine: readings reach it through a bounded bus
subscription, and if that buffer overflows the engine drops it, re-reads the
recent readings of its point rules from the database and subscribes again.

At start-up (and after an overflow) the point rules' state is rebuilt from the
database: the recent readings of each rule are replayed, starting from the
unresolved alerts, and the outcome applied. A restart therefore opens no second
alert for a condition already alerted, and misses no clear that happened while
the hub was away. Scheduled rules keep no state of their own.

The parts, one job each: :class:`~hub.alerts.rulebook.RuleBook` (rules and
devices as last read), :class:`~hub.alerts.points.PointRules` (point-rule state),
:class:`~hub.alerts.scheduler.Scheduler` (scheduled rules),
:class:`~hub.alerts.lifecycle.Lifecycle` (alert transitions) and
:class:`~hub.alerts.dispatch.Dispatcher` (notifications). The engine wires them
to the bus and to its two database connections, and reconnects them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from hub.alerts import metrics
from hub.alerts.dispatch import Dispatcher
from hub.alerts.lifecycle import Lifecycle
from hub.alerts.points import PointRules
from hub.alerts.rulebook import RuleBook, profile_rule_specs
from hub.alerts.scheduler import Scheduler
from hub.backoff import backoff_delay
from hub.config import Settings
from hub.events import Event, EventBus, Subscription
from hub.profiles import Profile
from hub.store import rules as rule_store
from hub.store.db import CONNECTION_ERRORS, AsyncConn, aconnect

log = logging.getLogger(__name__)

YIELD_EVERY = 256  # readings evaluated between two yields to the event loop


class Engine:
    """Args:
    settings: the hub's settings (``alerts_*``, time zone, database, broker).
    profiles: device profiles by name; their ``alert_rules`` become rules.
    storage: the storage level (both levels provide the hourly rollups used here).
    bus: committed readings come from it; alert changes go to it.
    clock: the wall clock (tests may pass their own).
    """

    def __init__(
        self,
        settings: Settings,
        profiles: Mapping[str, Profile],
        *,
        storage: str,
        bus: EventBus,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._settings = settings
        self._profiles = profiles
        self.storage = storage
        self._bus = bus
        self.dispatcher = Dispatcher.from_settings(settings)
        self.lifecycle = Lifecycle(bus, on_change=self.dispatcher.wake)
        self._book = RuleBook()
        self._points = PointRules(self._book, self.lifecycle, profiles)
        self._scheduler = Scheduler(settings, self._book, self.lifecycle, profiles, clock)
        self._rules_changed = False
        self.ready = asyncio.Event()
        # Subscribe now, so no reading committed while the engine starts is missed.
        self._subscription: Subscription | None = self._subscribe()

    def _subscribe(self) -> Subscription:
        return self._bus.subscribe(
            maxsize=self._settings.alerts_point_buffer,
            accept=self._wants,
            readings=self._wants_readings,
            name="alert engine",
        )

    def _wants(self, event: Event) -> bool:
        return event.type == "reading" and self._wants_readings(
            event.profile, event.data.get("metric", "")
        )

    def _wants_readings(self, profile: str | None, metric: str) -> bool:
        # Until the rules are loaded, and after a rule change until they are read
        # again, every reading is kept: none may slip by a rule that now applies.
        return (
            not self._book.loaded_once
            or self._rules_changed
            or (profile, metric) in self._book.point_rules
        )

    # -- running ----------------------------------------------------------------------

    async def run(self) -> None:
        """Run until cancelled; a failure is logged (the ingest carries on without alerts)."""
        try:
            await self._run()
        except Exception:
            log.exception("the alert engine stopped")
            raise

    async def _run(self) -> None:
        point_conn = await self._connect("alerts-point")
        schedule_conn = await self._connect("alerts-schedule")
        try:
            await self.start(schedule_conn)
            self.ready.set()
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._consume(point_conn), name="alerts point rules")
                tasks.create_task(self._schedule(schedule_conn), name="alerts schedule")
                tasks.create_task(self.dispatcher.run(), name="alerts notify")
        finally:
            if self._subscription is not None:
                self._subscription.close()
            for conn in (point_conn, schedule_conn):
                with contextlib.suppress(Exception):
                    await conn.close()

    async def _connect(self, purpose: str) -> AsyncConn:
        attempt = 0
        while True:
            try:
                return await aconnect(self._settings.database_url, purpose, autocommit=True)
            except CONNECTION_ERRORS as exc:
                attempt += 1
                if attempt == 1:
                    log.warning("alert engine waiting for the database: %s", exc)
                await asyncio.sleep(backoff_delay(attempt, base=0.5, cap=30.0))

    async def _reconnect(self, conn: AsyncConn, purpose: str) -> AsyncConn:
        with contextlib.suppress(Exception):
            await conn.close()
        return await self._connect(purpose)

    async def start(self, conn: AsyncConn) -> None:
        """Store the profile default rules, load everything, rebuild the point rules."""
        await self.dispatcher.register(conn)
        changed = await rule_store.sync_profile_rules(conn, profile_rule_specs(self._profiles))
        await self._load(conn)
        await self._points.rebuild_all(conn)
        log.info(
            "alert engine: %d rules (%d default rules updated), %d unresolved alerts",
            len(self._book.rules),
            changed,
            len(self.lifecycle.unresolved),
        )

    def rules_changed(self) -> None:
        """A rule was made, changed or deleted (and committed): re-read the rules
        before judging the next reading, so the change holds from that reading."""
        self._rules_changed = True

    async def _load(self, conn: AsyncConn) -> None:
        """Read rules, devices and unresolved alerts; forget the state of changed rules."""
        for rule_id in await self._book.load(conn):
            self._points.forget(rule_id)
            self._scheduler.forget(rule_id)
        await self.lifecycle.refresh(conn)
        for rule_id in {key[0] for key in self.lifecycle.unresolved} - set(self._book.rules):
            gone = await rule_store.get_rule(conn, rule_id)
            if gone is not None and not gone.enabled:
                await self.lifecycle.resolve_for_disabled_rule(conn, rule_id)

    # -- point rules --------------------------------------------------------------------

    async def _consume(self, conn: AsyncConn) -> None:
        while True:
            subscription = self._subscription or self._subscribe()
            self._subscription = subscription
            handled = 0
            async for event in subscription:
                handled += 1
                if handled % YIELD_EVERY == 0:
                    # A queue that is never empty never suspends: let the ingest run.
                    await asyncio.sleep(0)
                try:
                    if self._rules_changed:
                        self._rules_changed = False
                        await self._load(conn)
                    await self.evaluate_reading(conn, event)
                except CONNECTION_ERRORS as exc:
                    log.warning("alert engine lost the database (%s); reconnecting", exc)
                    conn = await self._reconnect(conn, "alerts-point")
                    self._points.forget_all()
                except Exception:  # a bad reading or rule must not stop the point rules
                    metrics.RULE_ERRORS.labels("point").inc()
                    log.exception("point rule evaluation failed for %s", event.device_id)
            self._subscription = None
            metrics.POINT_OVERFLOWS.inc()
            log.warning("alert engine fell behind the readings; re-reading them from the database")
            self._points.forget_all()
            self._subscription = self._subscribe()
            try:
                await self._points.rebuild_all(conn)
            except CONNECTION_ERRORS:
                conn = await self._reconnect(conn, "alerts-point")

    async def evaluate_reading(self, conn: AsyncConn, event: Event) -> None:
        """Run the point rules on one committed reading."""
        await self._points.evaluate(conn, event)

    # -- scheduled rules ---------------------------------------------------------------

    async def _schedule(self, conn: AsyncConn) -> None:
        interval = self._settings.alerts_interval_s
        while True:
            started = time.monotonic()
            try:
                await self.run_scheduled(conn)
            except CONNECTION_ERRORS as exc:
                log.warning("scheduled alert rules: database unreachable: %s", exc)
                conn = await self._reconnect(conn, "alerts-schedule")
            elapsed = time.monotonic() - started
            metrics.EVALUATION_SECONDS.observe(elapsed)
            if elapsed > interval:
                log.warning(
                    "scheduled alert rules took %.1f s, longer than HUB_ALERTS_INTERVAL_S", elapsed
                )
            await asyncio.sleep(max(0.0, interval - elapsed))

    async def run_scheduled(self, conn: AsyncConn) -> int:
        """One run of every window, stale and domain rule; returns alerts changed."""
        await self._load(conn)
        return await self._scheduler.run_once(conn)
