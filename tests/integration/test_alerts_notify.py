"""Notifications of alert changes: a real local webhook receiver (signature,
retries with backoff, dead after the last attempt and listed) and a real MQTT
subscriber; a dead webhook does not hold back the MQTT notifications."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import psycopg
import pytest

from hub.alerts.dispatch import Dispatcher
from hub.alerts.notifiers import MqttNotifier, Notifier, WebhookNotifier
from hub.config import Settings, mqtt_endpoint
from hub.model import RuleSpec
from hub.store import alerts as store
from hub.store import rules as rule_store
from hub.store.alerts_deliveries import list_deliveries
from hub.store.db import aconnect
from tests.integration.alert_receivers import Receiver, Watcher

Conn = psycopg.AsyncConnection[Any]
SECRET = b"test-only-secret"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
async def conn(migrated: Settings) -> AsyncIterator[Conn]:
    connection = await aconnect(migrated.database_url, "test", autocommit=True)
    try:
        yield connection
    finally:
        await connection.close()


async def until(predicate: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.05)


async def settled(conn: Conn, count: int, state: str = "delivered") -> None:
    """Wait until ``count`` deliveries are in ``state`` (the receiver may have the
    request a moment before the dispatcher records it)."""
    for _ in range(100):
        if len(await list_deliveries(conn, state=state)) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {count} deliveries {state}")


async def open_and_resolve(conn: Conn, device_id: str = "wm-0007") -> int:
    rule = await rule_store.create_rule(
        conn, RuleSpec("burst", "threshold", "water_meter", "flow", parameters={"above": 3000})
    )
    cur = await conn.execute(
        "INSERT INTO devices (device_id, profile) VALUES (%s, 'water_meter') RETURNING id",
        (device_id,),
    )
    row = await cur.fetchone()
    assert row is not None
    alert = await store.open_alert(conn, rule_id=rule.id, device=row[0], severity="critical",
                                   message="burst: flow 4500", value=4500.0, details={})  # fmt: skip
    assert alert is not None
    await store.resolve(conn, alert.id, actor="kari", note="valve closed")
    return alert.id


@contextlib.asynccontextmanager
async def dispatching(
    settings: Settings, notifiers: list[Notifier], *, max_attempts: int = 3
) -> AsyncIterator[Dispatcher]:
    dispatcher = Dispatcher(
        settings.database_url,
        notifiers,
        max_attempts=max_attempts,
        backoff_s=0.2,
        backoff_max_s=1.0,
        send_timeout_s=3,
        poll_s=0.1,
    )
    task = asyncio.create_task(dispatcher.run())
    try:
        yield dispatcher
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_webhook_gets_each_transition_signed(
    migrated: Settings, conn: Conn, receiver: Receiver
) -> None:
    webhook = WebhookNotifier(receiver.url, secret=SECRET, timeout_s=2)
    async with dispatching(migrated, [webhook]) as dispatcher:
        await dispatcher.register(conn)  # from here on every transition is sent
        alert_id = await open_and_resolve(conn)
        await until(lambda: len(receiver.requests) == 2, 10, "two webhook calls")
        await settled(conn, 2)  # the receiver has them a moment before they are recorded
    bodies = receiver.bodies()
    assert [(b["transition"], b["actor"]) for b in bodies] == [
        ("open", "engine"),
        ("resolved", "kari"),
    ]
    assert bodies[1]["note"] == "valve closed"
    assert bodies[0]["alert"]["id"] == alert_id and bodies[0]["alert"]["device_id"] == "wm-0007"
    for headers, body, _ in receiver.requests:
        expected = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["X-Hub-Signature-256"], expected)
        assert headers["Content-Type"] == "application/json"
    assert receiver.requests[1][0]["X-Hub-Event"] == "alert.resolved"
    delivered = await list_deliveries(conn, state="delivered")
    assert len(delivered) == 2 and all(d.attempts == 1 for d in delivered)


async def test_webhook_retries_with_backoff_until_it_succeeds(
    migrated: Settings, conn: Conn
) -> None:
    flaky = Receiver(fail=2)
    try:
        hook = WebhookNotifier(flaky.url, secret=None, timeout_s=2)
        async with dispatching(migrated, [hook]) as dispatcher:
            await dispatcher.register(conn)
            await open_and_resolve(conn)
            await until(lambda: len(flaky.requests) >= 4, 15, "retries and both deliveries")
            await settled(conn, 2)
        attempts: dict[str, list[float]] = {}
        for headers, _, at in flaky.requests:
            attempts.setdefault(headers["X-Hub-Delivery"], []).append(at)
        first = attempts[min(attempts)]
        assert len(first) == 3  # two failures, then delivered
        assert first[1] - first[0] >= 0.15 and first[2] - first[1] >= 0.3  # backoff doubles
        deliveries = await list_deliveries(conn)
        assert {d.state for d in deliveries} == {"delivered"}
        assert max(d.attempts for d in deliveries) == 3
        assert "X-Hub-Signature-256" not in flaky.requests[0][0]  # no secret, no signature
        # A retried delivery sends the same bytes (and so the same signature).
        bodies = {h["X-Hub-Delivery"]: set() for h, _, _ in flaky.requests}
        for headers, body, _ in flaky.requests:
            bodies[headers["X-Hub-Delivery"]].add(body)
        assert all(len(sent) == 1 for sent in bodies.values())
    finally:
        flaky.close()


async def test_dead_webhook_is_visible_and_does_not_hold_back_mqtt(
    migrated: Settings, conn: Conn
) -> None:
    dead = Receiver(fail=1000)
    watcher = Watcher(migrated)
    host, port, tls, user, password = mqtt_endpoint(migrated.mqtt_url)
    mqtt = MqttNotifier(host=host, port=port, tls=tls, username=user, password=password,
                        prefix=migrated.topic_prefix, client_id=f"{migrated.mqtt_client_id}-a",
                        timeout_s=3)  # fmt: skip
    try:
        webhook = WebhookNotifier(dead.url, secret=SECRET, timeout_s=2)
        async with dispatching(migrated, [webhook, mqtt], max_attempts=3) as dispatcher:
            await dispatcher.register(conn)
            alert_id = await open_and_resolve(conn, "wm-0042")
            await until(lambda: len(watcher.messages) == 2, 10, "two MQTT notifications")
            await until(lambda: len(dead.requests) == 6, 15, "three attempts per delivery")
            await settled(conn, 2, "dead")
        topics = {topic for topic, _ in watcher.messages}
        assert topics == {f"{migrated.topic_prefix}/alerts/water_meter/wm-0042"}
        assert [m["transition"] for _, m in watcher.messages] == ["open", "resolved"]
        gone = await list_deliveries(conn, state="dead")
        assert len(gone) == 2 and {d.alert_id for d in gone} == {alert_id}
        assert all(d.attempts == 3 and d.last_error == "HTTP 503 from the receiver" for d in gone)
    finally:
        watcher.close()
        dead.close()


async def test_undelivered_notifications_survive_a_restart(migrated: Settings, conn: Conn) -> None:
    receiver = Receiver(fail=1000)
    try:
        hook = WebhookNotifier(receiver.url, secret=None, timeout_s=1)
        async with dispatching(migrated, [hook], max_attempts=50) as dispatcher:
            await dispatcher.register(conn)
            await open_and_resolve(conn)
            await until(lambda: len(receiver.requests) >= 2, 10, "failed attempts")
        assert {d.state for d in await list_deliveries(conn)} == {"pending"}
        failed = len(receiver.requests)
        receiver.fail = 0  # the receiver is repaired; the hub restarts
        hook = WebhookNotifier(receiver.url, secret=None, timeout_s=1)
        async with dispatching(migrated, [hook], max_attempts=50):
            await until(
                lambda: len(receiver.requests) >= failed + 2, 10, "deliveries after restart"
            )
            await settled(conn, 2)
        assert {d.state for d in await list_deliveries(conn)} == {"delivered"}
        transitions = [b["transition"] for b in receiver.bodies()[failed:]]
        assert sorted(transitions) == ["open", "resolved"]
    finally:
        receiver.close()


class _StopsTheHubWhenAnswered(WebhookNotifier):
    """A real webhook notifier; the hub is stopped at the moment the receiver's
    answer comes back (the race a shutdown meets while a receiver is failing)."""

    stop: Callable[[], object] = staticmethod(lambda: None)

    async def send(self, delivery: Any) -> None:
        try:
            await super().send(delivery)
        finally:
            self.stop()


async def test_a_dispatcher_stopped_as_a_send_fails_stops_at_once(
    migrated: Settings, conn: Conn
) -> None:
    failing = Receiver(fail=1000)
    try:
        hook = _StopsTheHubWhenAnswered(failing.url, secret=None, timeout_s=2)
        dispatcher = Dispatcher(migrated.database_url, [hook], max_attempts=50, backoff_s=0.05,
                                backoff_max_s=0.1, send_timeout_s=3, poll_s=0.1)  # fmt: skip
        await dispatcher.register(conn)
        task = asyncio.create_task(dispatcher.run())
        hook.stop = task.cancel
        await open_and_resolve(conn)
        # The stop is not lost with the failed send: the dispatcher ends, no retry follows.
        await asyncio.wait({task}, timeout=10)
        assert task.cancelled()
        assert len(failing.requests) == 1
        assert {d.state for d in await list_deliveries(conn)} == {"pending"}
    finally:
        failing.close()


async def test_a_dispatcher_stopped_during_a_database_call_stops_at_once(
    migrated: Settings, conn: Conn, receiver: Receiver
) -> None:
    hook = WebhookNotifier(receiver.url, secret=None, timeout_s=2)
    locker = await aconnect(migrated.database_url, "test-locker")
    try:
        async with dispatching(migrated, [hook]) as dispatcher:
            await dispatcher.register(conn)
        await locker.execute("LOCK TABLE alert_notifiers IN ACCESS EXCLUSIVE MODE")
        dispatcher = Dispatcher(migrated.database_url, [hook], max_attempts=3, backoff_s=0.2,
                                backoff_max_s=1.0, send_timeout_s=3, poll_s=0.1)  # fmt: skip
        task = asyncio.create_task(dispatcher.run())
        for _ in range(200):  # the dispatcher's query waits for the lock in the server
            cur = await conn.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE application_name = 'hub-alerts-notify' AND wait_event_type = 'Lock'"
            )
            row = await cur.fetchone()
            if row is not None and row[0] == 1:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the dispatcher never waited for the database")
        task.cancel()
        await asyncio.wait({task}, timeout=10)
        assert task.cancelled()
    finally:
        await locker.close()
