"""Notifiers: where alert changes are sent. A webhook (JSON, signed with
HMAC-SHA256) and an MQTT publish to ``{prefix}/alerts/{profile}/{device_id}``.

A notifier only sends; retries, backoff and dead deliveries are the
dispatcher's (:mod:`hub.alerts.dispatch`), so every notifier gets the same
guarantees. ``send`` raises :class:`NotifyError` for anything that failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import ssl
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import orjson
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from hub import __version__
from hub.errors import NotifyError
from hub.model import Alert, AlertEvent, Delivery

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature-256"


class Notifier(Protocol):
    name: str

    async def send(self, delivery: Delivery) -> None: ...

    async def close(self) -> None: ...


def notification_payload(event_id: int, event: AlertEvent, alert: Alert) -> dict[str, Any]:
    """What every notifier sends for one alert transition."""
    return {
        "type": "alert",
        "event_id": event_id,
        "transition": event.state,
        "at": event.at.isoformat(),
        "actor": event.actor,
        "note": event.note,
        "alert": alert.as_dict(),
    }


def notification_body(delivery: Delivery) -> bytes:
    """The exact bytes sent (and signed); the same on every retry."""
    return orjson.dumps(
        {"delivery_id": delivery.id, **delivery.payload}, option=orjson.OPT_SORT_KEYS
    )


def signature(secret: bytes, body: bytes) -> str:
    """Value of the X-Hub-Signature-256 header: ``sha256=`` and the hex HMAC of the body."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def webhook_name(url: str) -> str:
    """A stable name for a webhook that does not expose its path or credentials."""
    parts = urlsplit(url)
    digest = hashlib.sha256(url.encode()).hexdigest()[:10]
    return f"webhook {parts.hostname}:{parts.port or ''}#{digest}"


class WebhookNotifier:
    """POSTs each notification as JSON; any 2xx answer counts as delivered.

    Args:
        url: the receiver.
        secret: HMAC key; when given, ``X-Hub-Signature-256`` carries the signature.
        timeout_s: timeout of one request (connect, write and read).
    """

    def __init__(self, url: str, *, secret: bytes | None, timeout_s: float) -> None:
        self.url = url
        self.name = webhook_name(url)
        self._secret = secret
        self._client = httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)

    async def send(self, delivery: Delivery) -> None:
        body = notification_body(delivery)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"sensor-hub/{__version__}",
            "X-Hub-Event": f"alert.{delivery.payload.get('transition', 'change')}",
            "X-Hub-Delivery": str(delivery.id),
        }
        if self._secret is not None:
            headers[SIGNATURE_HEADER] = signature(self._secret, body)
        try:
            response = await self._client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise NotifyError(f"{type(exc).__name__}: {exc}") from None
        if not 200 <= response.status_code < 300:
            raise NotifyError(f"HTTP {response.status_code} from the receiver")

    async def close(self) -> None:
        await self._client.aclose()


class MqttNotifier:
    """Publishes each notification (QoS 1, not retained) to
    ``{prefix}/alerts/{profile}/{device_id}`` on the hub's broker.

    paho runs its network loop in its own thread and reconnects by itself; a
    publish counts as delivered when the broker acknowledged it.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        tls: bool,
        username: str | None,
        password: str | None,
        prefix: str,
        client_id: str,
        timeout_s: float,
    ) -> None:
        self.name = "mqtt"
        self._prefix = prefix
        self._timeout_s = timeout_s
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=MQTTProtocolVersion.MQTTv311,
        )
        if username is not None:
            self._client.username_pw_set(username, password)
        if tls:
            self._client.tls_set_context(ssl.create_default_context())
        self._client.reconnect_delay_set(1, 30)
        self._client.connect_async(host, port, keepalive=30)
        self._client.loop_start()

    def topic(self, alert: dict[str, Any]) -> str:
        return f"{self._prefix}/alerts/{alert.get('profile')}/{alert.get('device_id')}"

    async def send(self, delivery: Delivery) -> None:
        if not self._client.is_connected():
            raise NotifyError("not connected to the broker")
        topic = self.topic(delivery.payload.get("alert", {}))
        info = self._client.publish(topic, notification_body(delivery), qos=1)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            raise NotifyError(f"publish refused: {paho.error_string(info.rc)}")
        try:
            await asyncio.to_thread(info.wait_for_publish, self._timeout_s)
        except (RuntimeError, ValueError) as exc:
            raise NotifyError(f"publish failed: {exc}") from None
        if not info.is_published():
            raise NotifyError(f"no acknowledgement from the broker in {self._timeout_s:g} s")

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)
