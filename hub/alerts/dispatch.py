"""The dispatcher: delivers the notification outbox through each notifier.

One worker per notifier, so a receiver that is down or slow delays nobody
else, and evaluation never waits for any of them. A worker queues the new alert
transitions for its notifier, claims the deliveries that are due, and sends
them one by one with a timeout. A failed attempt is retried after a backoff
that doubles (``alerts_notify_backoff_s`` up to ``alerts_notify_backoff_max_s``,
with jitter); after ``alerts_notify_max_attempts`` the delivery is marked dead:
it stays in ``alert_deliveries`` (state ``dead``, with the last error), is
logged as an error and counted in ``hub_alert_notifications{outcome="dead"}``.
Deliveries survive restarts: whatever was not delivered is sent after start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import timedelta

from hub.alerts import metrics
from hub.alerts.notifiers import MqttNotifier, Notifier, WebhookNotifier, notification_payload
from hub.backoff import backoff_delay
from hub.config import Settings, mqtt_endpoint, webhook_urls
from hub.model import Delivery
from hub.store import alerts_deliveries as outbox
from hub.store.db import CONNECTION_ERRORS, AsyncConn, aconnect

log = logging.getLogger(__name__)

BATCH = 50


class Dispatcher:
    """Args:
    database_url: where the outbox lives.
    notifiers: the configured notifiers.
    max_attempts: attempts before a delivery is dead.
    backoff_s: wait before the first retry; doubles per attempt.
    backoff_max_s: cap of the wait.
    send_timeout_s: cap of one send (on top of the notifier's own timeouts).
    poll_s: how often a worker looks for new transitions when not woken.
    """

    @classmethod
    def from_settings(cls, settings: Settings) -> Dispatcher:
        """The notifiers the settings ask for, with the settings' retry policy."""
        return cls(
            settings.database_url,
            build_notifiers(settings),
            max_attempts=settings.alerts_notify_max_attempts,
            backoff_s=settings.alerts_notify_backoff_s,
            backoff_max_s=settings.alerts_notify_backoff_max_s,
            send_timeout_s=settings.alerts_webhook_timeout_s + 1,
        )

    def __init__(
        self,
        database_url: str,
        notifiers: Sequence[Notifier],
        *,
        max_attempts: int,
        backoff_s: float,
        backoff_max_s: float,
        send_timeout_s: float,
        poll_s: float = 1.0,
    ) -> None:
        self._url = database_url
        self.notifiers = list(notifiers)
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._backoff_max_s = backoff_max_s
        self._send_timeout_s = send_timeout_s
        self._poll_s = poll_s
        self._wakeups = {n.name: asyncio.Event() for n in self.notifiers}
        self._conns: dict[str, AsyncConn] = {}

    async def register(self, conn: AsyncConn) -> None:
        """Start each new notifier's watermark now (the engine does this before it
        evaluates anything, so no transition of this run can be missed)."""
        for notifier in self.notifiers:
            await outbox.register_notifier(conn, notifier.name)

    def wake(self) -> None:
        """Look for new transitions now (called by the engine after a change)."""
        for event in self._wakeups.values():
            event.set()

    async def run(self) -> None:
        try:
            async with asyncio.TaskGroup() as tasks:
                for notifier in self.notifiers:
                    tasks.create_task(self._worker(notifier), name=f"notify {notifier.name}")
        finally:
            for notifier in self.notifiers:
                with contextlib.suppress(Exception):
                    await notifier.close()

    def retry_delay(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt."""
        return backoff_delay(
            attempts - 1, base=self._backoff_s, cap=self._backoff_max_s, jitter=0.2
        )

    async def _worker(self, notifier: Notifier) -> None:
        conn: AsyncConn | None = None
        try:
            await self._work(notifier, conn)
        finally:
            conn = self._conns.pop(notifier.name, None)
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close()

    async def _work(self, notifier: Notifier, conn: AsyncConn | None) -> None:
        registered = False
        failures = 0
        while True:
            try:
                if conn is None or conn.closed:
                    conn = await aconnect(self._url, "alerts-notify", autocommit=True)
                    self._conns[notifier.name] = conn
                if not registered:
                    await outbox.register_notifier(conn, notifier.name)
                    registered = True
                await outbox.queue_events(conn, notifier.name, notification_payload)
                lease = timedelta(seconds=self._send_timeout_s * 2 + 30)
                due = await outbox.claim_due(conn, notifier.name, lease=lease, limit=BATCH)
                for delivery in due:
                    await self._deliver(conn, notifier, delivery)
                failures = 0
                if len(due) < BATCH:
                    await self._sleep(notifier.name)
            except (*CONNECTION_ERRORS, OSError) as exc:
                failures += 1
                if failures == 1:
                    log.warning("notifier %s: database unreachable: %s", notifier.name, exc)
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close()
                conn = None
                await asyncio.sleep(backoff_delay(failures, base=0.5, cap=30.0))

    async def _sleep(self, name: str) -> None:
        wakeup = self._wakeups[name]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._poll_s):
                await wakeup.wait()
        wakeup.clear()

    async def _deliver(self, conn: AsyncConn, notifier: Notifier, delivery: Delivery) -> None:
        try:
            # asyncio.timeout, not wait_for: in Python 3.11 wait_for drops a cancel
            # that arrives as the send ends, and a stopped worker would go on.
            async with asyncio.timeout(self._send_timeout_s):
                await notifier.send(delivery)
        except Exception as exc:  # any failure of a notifier is retried, never raised
            error = str(exc) or type(exc).__name__
            attempts = delivery.attempts + 1
            dead = await outbox.mark_failed(
                conn,
                delivery.id,
                error=error,
                retry_in=timedelta(seconds=self.retry_delay(attempts)),
                max_attempts=self._max_attempts,
            )
            if dead:
                metrics.NOTIFICATIONS.labels(notifier.name, "dead").inc()
                metrics.DEAD_NOTIFICATIONS.labels(notifier.name).inc()
                log.error(
                    "notification %d to %s dead after %d attempts: %s",
                    delivery.id,
                    notifier.name,
                    attempts,
                    error,
                    extra={"alert_id": delivery.alert_id},
                )
            else:
                metrics.NOTIFICATIONS.labels(notifier.name, "failed").inc()
                log.warning(
                    "notification %d to %s failed (attempt %d of %d): %s",
                    delivery.id,
                    notifier.name,
                    attempts,
                    self._max_attempts,
                    error,
                )
            return
        await outbox.mark_delivered(conn, delivery.id)
        metrics.NOTIFICATIONS.labels(notifier.name, "delivered").inc()


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
