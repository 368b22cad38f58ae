"""Notification bodies, signatures and retry delays (no network)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import orjson

from hub.alerts.dispatch import Dispatcher
from hub.alerts.notifiers import notification_body, signature, webhook_name
from hub.model import Delivery

AT = datetime(2026, 1, 12, 7, tzinfo=UTC)


def delivery(payload: dict[str, object]) -> Delivery:
    return Delivery(7, "webhook x", 3, 11, payload, "pending", 0, None, AT, None)


def test_body_is_the_same_bytes_on_every_attempt_and_carries_the_delivery_id() -> None:
    first = notification_body(delivery({"transition": "open", "alert": {"b": 1, "a": 2}}))
    again = notification_body(delivery({"alert": {"a": 2, "b": 1}, "transition": "open"}))
    assert first == again
    assert orjson.loads(first)["delivery_id"] == 7


def test_signature_is_hmac_sha256_of_the_body() -> None:
    body = b'{"transition":"open"}'
    expected = hmac.new(b"k", body, hashlib.sha256).hexdigest()
    assert signature(b"k", body) == f"sha256={expected}"
    assert signature(b"other", body) != signature(b"k", body)


def test_webhook_name_hides_path_and_credentials() -> None:
    name = webhook_name("https://user:token@ops.example.no:8443/hooks/abc123?key=s3cret")
    assert name.startswith("webhook ops.example.no:8443#")
    for secret in ("token", "abc123", "s3cret", "user"):
        assert secret not in name
    assert name != webhook_name("https://user:token@ops.example.no:8443/hooks/other")


def test_retry_delay_doubles_up_to_the_cap() -> None:
    dispatcher = Dispatcher("postgresql://x/y", [], max_attempts=5, backoff_s=2,
                            backoff_max_s=20, send_timeout_s=1)  # fmt: skip
    delays = [dispatcher.retry_delay(n) for n in range(1, 7)]
    for delay, full in zip(delays, [2, 4, 8, 16, 20, 20], strict=True):
        assert 0.8 * full <= delay <= full
