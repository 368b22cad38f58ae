"""Subscription notifications: matching committed changes against the stored
subscriptions, and sending what matched.

The matcher reloads the subscriptions from PostgreSQL every second (so one made
through any hub process is live within a second), takes the ingest's changes
(:class:`~hub.ngsi.changes.ChangeFeed`, switched on only while a live
subscription exists), builds the changed entities and queues one notification
per subscription and round in ``ngsi_notifications``. The sender delivers that
outbox the way the alert dispatcher delivers alerts (:mod:`hub.alerts.dispatch`):
claimed under a lease, POSTed with a timeout (``HUB_ALERTS_WEBHOOK_TIMEOUT_S``),
signed with ``HUB_ALERTS_WEBHOOK_SECRET`` when set, retried after a doubling
backoff (``HUB_ALERTS_NOTIFY_BACKOFF_S`` .. ``_MAX_S``) and dead after
``HUB_ALERTS_NOTIFY_MAX_ATTEMPTS``. A queued notification survives restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import psycopg

from hub import __version__
from hub.alerts.notifiers import SIGNATURE_HEADER, signature
from hub.backoff import backoff_delay
from hub.config import Settings
from hub.ngsi import http, mapping, metrics
from hub.ngsi.changes import ChangeFeed
from hub.ngsi.mapping import Entity, Mapper
from hub.ngsi.models import CORE_CONTEXT
from hub.ngsi.subscriptions import Subscription, compile_subscription
from hub.privacy.policy import OUTBOUND
from hub.store import ngsi as store
from hub.store import ngsi_subscriptions as outbox
from hub.store.db import AsyncConn, aconnect

log = logging.getLogger(__name__)
RELOAD_S = 1.0
BATCH = 50


def changed_attributes(mapper: Mapper, profile: str, metrics_changed: set[str]) -> set[str]:
    """The attribute names a change of ``metrics_changed`` touches."""
    targets = mapper.targets.get(profile, {})
    names = {targets[m].attribute for m in metrics_changed if m in targets}
    if metrics_changed - {"status"}:
        names |= {"dateObserved", "observationDateTime", "dateLastValueReported"}
    if "status" in metrics_changed:
        names.add("deviceState")
    return names


def shape(entity: Entity, subscription: Subscription) -> Entity:
    entity = mapping.project(entity, subscription.attributes)
    if subscription.format == "keyValues":
        entity = mapping.key_values(entity)
    elif subscription.format == "concise":
        entity = mapping.concise(entity)
    if subscription.accept == http.JSON_LD:
        entity = {**entity, "@context": subscription.context or models_context()}
    return entity


def models_context() -> str:
    return CORE_CONTEXT


class Matcher:
    def __init__(self, settings: Settings, mapper: Mapper, feed: ChangeFeed) -> None:
        self._settings = settings
        self._mapper = mapper
        self._feed = feed
        self._subscriptions: list[Subscription] = []
        self._last_sent: dict[str, datetime] = {}
        self.wakeup = asyncio.Event()  # set when notifications were queued

    async def run(self) -> None:
        conn: AsyncConn | None = None
        failures = 0
        reloaded = 0.0
        loop = asyncio.get_running_loop()
        while True:
            try:
                if conn is None or conn.closed:
                    conn = await aconnect(
                        self._settings.database_url, "ngsi-match", autocommit=True
                    )
                if loop.time() - reloaded >= RELOAD_S:
                    await self._reload(conn)
                    reloaded = loop.time()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(RELOAD_S):
                        await self._feed.wakeup.wait()
                changes, overflowed, _ = self._feed.take()
                if overflowed:
                    metrics.NOTIFY_OVERFLOWS.inc()
                    log.warning("subscription matching fell behind: some changes notify nobody")
                if changes and self._subscriptions:
                    await self._match(conn, changes)
                failures = 0
            except (psycopg.OperationalError, psycopg.InterfaceError, OSError) as exc:
                failures += 1
                if failures == 1:
                    log.warning("subscription matching: database unreachable: %s", exc)
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close()
                conn = None
                await asyncio.sleep(backoff_delay(failures - 1, base=0.5, cap=30.0))

    async def _reload(self, conn: AsyncConn) -> None:
        now = datetime.now(UTC)
        compiled = []
        for stored in await outbox.all_subscriptions(conn):
            try:
                subscription = compile_subscription(stored.id, stored.body)
            except Exception:  # stored before a rule changed: skip it, keep the rest
                log.warning("subscription %s cannot be compiled; skipped", stored.id)
                continue
            if stored.last_notification is not None:
                seen = self._last_sent.get(stored.id)
                if seen is None or stored.last_notification > seen:
                    self._last_sent[stored.id] = stored.last_notification
            if subscription.live(now):
                compiled.append(subscription)
        self._subscriptions = compiled
        self._feed.enabled = bool(compiled)
        self._feed.metrics = True

    async def _match(self, conn: AsyncConn, changes: dict[str, set[str]]) -> None:
        profiles = sorted(self._mapper.profiles)
        # Never a personal device (hub.privacy.policy.OUTBOUND).
        located = await store.snapshots(
            conn, profiles=profiles, device_ids=sorted(changes), vis=OUTBOUND
        )
        now = datetime.now(UTC)
        matched: dict[str, list[Entity]] = {}
        for item in located:
            touched = changed_attributes(
                self._mapper, item.snapshot.profile, changes.get(item.snapshot.device_id, set())
            )
            for entity in self._mapper.entities(item.snapshot):
                for subscription in self._subscriptions:
                    if subscription.matches(entity, touched):
                        matched.setdefault(subscription.id, []).append(shape(entity, subscription))
        for subscription in self._subscriptions:
            data = matched.get(subscription.id)
            if not data:
                continue
            last = self._last_sent.get(subscription.id)
            if last is not None and now - last < timedelta(seconds=subscription.throttling):
                continue
            payload = {
                "id": f"urn:ngsi-ld:Notification:{uuid.uuid4()}",
                "type": "Notification",
                "subscriptionId": subscription.id,
                "notifiedAt": mapping.iso(now),
                "data": data,
            }
            await outbox.queue(conn, subscription.id, payload, now)
            self._last_sent[subscription.id] = now
        log.debug(
            "matched %d changed devices against %d subscriptions: %s",
            len(changes),
            len(self._subscriptions),
            sorted(matched),
        )
        if matched:
            self.wakeup.set()


class Sender:
    def __init__(self, settings: Settings, wakeup: asyncio.Event) -> None:
        self._settings = settings
        self._wakeup = wakeup
        secret = settings.alerts_webhook_secret
        self._secret = secret.get_secret_value().encode() if secret is not None else None

    async def run(self) -> None:
        conn: AsyncConn | None = None
        failures = 0
        timeout = self._settings.alerts_webhook_timeout_s
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
            while True:
                try:
                    if conn is None or conn.closed:
                        conn = await aconnect(
                            self._settings.database_url, "ngsi-notify", autocommit=True
                        )
                    lease = timedelta(seconds=timeout * 2 + 30)
                    due = await outbox.claim_due(conn, lease=lease, limit=BATCH)
                    for item in due:
                        await self._deliver(conn, client, item)
                    failures = 0
                    if len(due) < BATCH:
                        with contextlib.suppress(TimeoutError):
                            async with asyncio.timeout(1.0):
                                await self._wakeup.wait()
                        self._wakeup.clear()
                except (psycopg.OperationalError, psycopg.InterfaceError, OSError) as exc:
                    failures += 1
                    if failures == 1:
                        log.warning("subscription notifications: database unreachable: %s", exc)
                    if conn is not None:
                        with contextlib.suppress(Exception):
                            await conn.close()
                    conn = None
                    await asyncio.sleep(backoff_delay(failures - 1, base=0.5, cap=30.0))

    async def _deliver(self, conn: AsyncConn, client: httpx.AsyncClient, item: outbox.Due) -> None:
        subscription = compile_subscription(item.subscription, item.body)
        body = orjson.dumps(item.payload)
        headers = {
            "Content-Type": subscription.accept,
            "User-Agent": f"sensor-hub/{__version__}",
            **subscription.headers,
        }
        if subscription.accept == http.JSON:
            context = subscription.context or models_context()
            headers["Link"] = f'<{context}>; rel="{http.CONTEXT_REL}"; type="{http.JSON_LD}"'
        if self._secret is not None:
            headers[SIGNATURE_HEADER] = signature(self._secret, body)
        try:
            response = await client.post(subscription.uri, content=body, headers=headers)
            if not 200 <= response.status_code < 300:
                raise httpx.HTTPStatusError(
                    f"HTTP {response.status_code} from the receiver",
                    request=response.request,
                    response=response,
                )
        except httpx.HTTPError as exc:
            attempts = item.attempts + 1
            delay = backoff_delay(
                attempts - 1,
                base=self._settings.alerts_notify_backoff_s,
                cap=self._settings.alerts_notify_backoff_max_s,
                jitter=0.2,  # as the alert dispatcher's retries
            )
            dead = await outbox.mark_failed(
                conn,
                item.id,
                error=str(exc) or type(exc).__name__,
                retry_in=timedelta(seconds=delay),
                max_attempts=self._settings.alerts_notify_max_attempts,
            )
            metrics.NOTIFICATIONS.labels("dead" if dead else "failed").inc()
            log.warning(
                "notification %d of %s failed (attempt %d): %s",
                item.id,
                item.subscription,
                attempts,
                exc,
            )
            return
        await outbox.mark_delivered(conn, item.id)
        metrics.NOTIFICATIONS.labels("delivered").inc()
