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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

import psycopg

from hub.alerts import metrics, scheduled
from hub.alerts.conditions import RateState, ThresholdState, Verdict
from hub.alerts.dispatch import Dispatcher
from hub.alerts.lifecycle import Lifecycle
from hub.alerts.notifiers import MqttNotifier, Notifier, WebhookNotifier
from hub.backoff import backoff_delay
from hub.config import Settings, mqtt_endpoint, webhook_urls
from hub.errors import RuleSpecError
from hub.events import Event, EventBus, Subscription
from hub.model import DeviceRow, Rule, RuleSpec
from hub.profiles import Profile
from hub.store import alerts_inputs as inputs
from hub.store import rules as rule_store
from hub.store.db import AsyncConn, aconnect

log = logging.getLogger(__name__)

PointState = ThresholdState | RateState
POINT_KINDS = frozenset({"threshold", "rate_of_change"})
YIELD_EVERY = 256  # readings evaluated between two yields to the event loop
_DB_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError)


def profile_rule_specs(profiles: Mapping[str, Profile]) -> list[RuleSpec]:
    """The default rules of every profile, as rule specifications."""
    specs = []
    for profile in profiles.values():
        for rule in profile.alert_rules:
            try:
                specs.append(rule.spec(profile.name))
            except RuleSpecError as exc:
                log.error("profile %s: rule %s skipped: %s", profile.name, rule.name, exc)
    return specs


def build_notifiers(settings: Settings) -> list[Notifier]:
    secret = settings.alerts_webhook_secret
    key = secret.get_secret_value().encode() if secret is not None else None
    notifiers: list[Notifier] = [
        WebhookNotifier(url, secret=key, timeout_s=settings.alerts_webhook_timeout_s)
        for url in webhook_urls(settings.alerts_webhook_urls)
    ]
    if settings.alerts_mqtt_notify:
        host, port, tls, username, password = mqtt_endpoint(settings.mqtt_url)
        notifiers.append(
            MqttNotifier(
                host=host,
                port=port,
                tls=tls,
                username=username,
                password=password,
                prefix=settings.topic_prefix,
                client_id=f"{settings.mqtt_client_id}-alerts",
                timeout_s=settings.alerts_webhook_timeout_s,
            )
        )
    return notifiers


def targets(rule: Rule, device: DeviceRow) -> bool:
    """Whether a rule applies to a device: same profile, and its device or district."""
    return (
        rule.profile == device.profile
        and (rule.device_id is None or rule.device_id == device.device_id)
        and (rule.district is None or rule.district == device.district)
    )


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
        self._clock = clock
        self.dispatcher = Dispatcher(
            settings.database_url,
            build_notifiers(settings),
            max_attempts=settings.alerts_notify_max_attempts,
            backoff_s=settings.alerts_notify_backoff_s,
            backoff_max_s=settings.alerts_notify_backoff_max_s,
            send_timeout_s=settings.alerts_webhook_timeout_s + 1,
        )
        self.lifecycle = Lifecycle(bus, on_change=self.dispatcher.wake)
        site = (settings.alerts_site_lat, settings.alerts_site_lon)
        self._site = (site[0], site[1]) if site[0] is not None and site[1] is not None else None
        self._rules: dict[int, Rule] = {}
        self._point_rules: dict[tuple[str, str], list[Rule]] = {}
        self._devices: dict[str, DeviceRow] = {}
        self._devices_by_pk: dict[int, DeviceRow] = {}
        self._states: dict[tuple[int, int], PointState] = {}
        self._loaded: set[int] = set()
        self._references: dict[int, tuple[datetime, dict[int, float]]] = {}
        self._aq_saved: dict[int, datetime] = {}
        self._unplaced: set[str] = set()
        self._loaded_once = False
        self.ready = asyncio.Event()
        # Subscribe now, so no reading committed while the engine starts is missed.
        self._subscription: Subscription | None = self._subscribe()

    def _subscribe(self) -> Subscription:
        return self._bus.subscribe(
            maxsize=self._settings.alerts_point_buffer,
            accept=self._wants,
            name="alert engine",
        )

    def _wants(self, event: Event) -> bool:
        # Until the rules are loaded every reading is kept: none may slip by at start.
        return event.type == "reading" and (
            not self._loaded_once or (event.profile, event.data.get("metric")) in self._point_rules
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
            except _DB_ERRORS as exc:
                attempt += 1
                if attempt == 1:
                    log.warning("alert engine waiting for the database: %s", exc)
                await asyncio.sleep(backoff_delay(attempt, base=0.5, cap=30.0))

    async def start(self, conn: AsyncConn) -> None:
        """Store the profile default rules, load everything, rebuild the point rules."""
        await self.dispatcher.register(conn)
        changed = await rule_store.sync_profile_rules(conn, profile_rule_specs(self._profiles))
        await self._load(conn)
        await self._rebuild_points(conn)
        log.info(
            "alert engine: %d rules (%d default rules updated), %d unresolved alerts",
            len(self._rules),
            changed,
            len(self.lifecycle.unresolved),
        )

    async def _load(self, conn: AsyncConn) -> None:
        """Read rules, devices and unresolved alerts; forget the state of changed rules."""
        rules = {r.id: r for r in await rule_store.list_rules(conn) if r.enabled}
        for rule_id, old in self._rules.items():
            new = rules.get(rule_id)
            if new is None or new.updated_at != old.updated_at:
                self._forget(rule_id)
        self._rules = rules
        points: dict[tuple[str, str], list[Rule]] = defaultdict(list)
        for rule in rules.values():
            if rule.kind in POINT_KINDS and rule.metric is not None:
                points[rule.profile, rule.metric].append(rule)
        self._point_rules = dict(points)
        self._loaded_once = True
        devices = await inputs.devices(conn)
        self._devices = {d.device_id: d for d in devices}
        self._devices_by_pk = {d.pk: d for d in devices}
        await self.lifecycle.refresh(conn)
        for rule_id in {key[0] for key in self.lifecycle.unresolved} - set(rules):
            gone = await rule_store.get_rule(conn, rule_id)
            if gone is not None and not gone.enabled:
                await self.lifecycle.resolve_for_disabled_rule(conn, rule_id)

    def _forget(self, rule_id: int) -> None:
        self._loaded.discard(rule_id)
        self._references.pop(rule_id, None)
        for key in [k for k in self._states if k[0] == rule_id]:
            del self._states[key]

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
                    await self.evaluate_reading(conn, event)
                except _DB_ERRORS as exc:
                    log.warning("alert engine lost the database (%s); reconnecting", exc)
                    conn = await self._reconnect(conn, "alerts-point")
                    self._forget_points()
                except Exception:  # a bad reading or rule must not stop the point rules
                    metrics.RULE_ERRORS.labels("point").inc()
                    log.exception("point rule evaluation failed for %s", event.device_id)
            self._subscription = None
            metrics.POINT_OVERFLOWS.inc()
            log.warning("alert engine fell behind the readings; re-reading them from the database")
            self._forget_points()
            self._subscription = self._subscribe()
            try:
                await self._rebuild_points(conn)
            except _DB_ERRORS:
                conn = await self._reconnect(conn, "alerts-point")

    def _forget_points(self) -> None:
        self._states.clear()
        self._loaded.clear()

    async def _reconnect(self, conn: AsyncConn, purpose: str) -> AsyncConn:
        with contextlib.suppress(Exception):
            await conn.close()
        return await self._connect(purpose)

    async def evaluate_reading(self, conn: AsyncConn, event: Event) -> None:
        """Run the point rules on one committed reading."""
        rules = self._point_rules.get((event.profile or "", str(event.data.get("metric"))))
        if not rules:
            return
        device = self._devices.get(event.device_id)
        if device is None:
            device = await inputs.device(conn, event.device_id)
            if device is None:
                return
            self._devices[device.device_id] = device
            self._devices_by_pk[device.pk] = device
        value = float(event.data["value"])
        for rule in rules:
            if not targets(rule, device):
                continue
            if rule.id not in self._loaded:
                await self._rebuild_rule(conn, rule)
            state = self._states.get((rule.id, device.pk))
            if state is None:
                state = self._new_state(rule, device)
                self._states[rule.id, device.pk] = state
            verdict = state.step(event.time, value)
            if self.lifecycle.acts_on(rule, device, verdict):
                await self.lifecycle.apply(conn, rule, device, verdict)

    def _new_state(self, rule: Rule, device: DeviceRow) -> PointState:
        if rule.kind == "threshold":
            return ThresholdState(rule, active=self.lifecycle.is_open(rule, device))
        return RateState(rule)

    async def _rebuild_points(self, conn: AsyncConn) -> None:
        for rules in list(self._point_rules.values()):
            for rule in rules:
                await self._rebuild_rule(conn, rule)

    async def _rebuild_rule(self, conn: AsyncConn, rule: Rule) -> None:
        """Replay a point rule's recent readings for all its devices and apply the
        outcome (this is how a restart catches up)."""
        self._loaded.add(rule.id)
        profile = self._profiles.get(rule.profile)
        if profile is None or rule.metric is None:
            return
        if rule.kind == "threshold":
            horizon = rule.number("for_s", 0) + profile.offline_after_s
        else:
            horizon = rule.number("window_s", 3600)
        # Each device's readings up to its newest one (data time, like every rule).
        recent = inputs.latest_spans(
            conn, profile=rule.profile, metric=rule.metric, span=timedelta(seconds=horizon)
        )
        outcomes: list[tuple[DeviceRow, Verdict | None]] = []
        async with contextlib.aclosing(recent) as rows:  # no writes while streaming
            async for device_pk, samples in rows:
                device = self._devices_by_pk.get(device_pk)
                if device is None or not targets(rule, device):
                    continue
                state = self._new_state(rule, device)
                last: Verdict | None = None
                for t, value in samples:
                    last = state.step(t, value) or last
                self._states[rule.id, device_pk] = state
                outcomes.append((device, last))
        for device, last in outcomes:
            await self.lifecycle.apply(conn, rule, device, last)

    # -- scheduled rules ---------------------------------------------------------------

    async def _schedule(self, conn: AsyncConn) -> None:
        interval = self._settings.alerts_interval_s
        while True:
            started = time.monotonic()
            try:
                await self.run_scheduled(conn)
            except _DB_ERRORS as exc:
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
        ctx = scheduled.Context(
            lifecycle=self.lifecycle,
            profiles=self._profiles,
            timezone=self._settings.timezone,
            site=self._site,
            now=self._clock(),
            references=self._references,
            unplaced=self._unplaced,
        )
        devices = list(self._devices.values())
        changed = 0
        for rule in list(self._rules.values()):
            if rule.kind in POINT_KINDS:
                continue
            try:
                matching = [d for d in devices if targets(rule, d)]
                changed += await scheduled.evaluate(conn, ctx, rule, matching)
            except _DB_ERRORS:
                raise
            except Exception:  # one broken rule must not stop the others
                metrics.RULE_ERRORS.labels(rule.kind).inc()
                log.exception("alert rule %d (%s) failed", rule.id, rule.name)
        try:
            await scheduled.update_air_quality(conn, self._profiles, devices, self._aq_saved)
        except _DB_ERRORS:
            raise
        except Exception:
            log.exception("air-quality classes failed")
        return changed
