"""Send simulated LoRaWAN uplinks as a network server would: published on an MQTT
broker (ChirpStack's MQTT integration, TTS's MQTT server) or posted to the hub's
webhook endpoints, each request sent again until it is answered 2xx."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Literal

import httpx
import paho.mqtt.client as mqtt

from hub.config import mqtt_endpoint
from simulators.lorawan import Uplink


def paced(uplinks: Iterable[Uplink], start: datetime, speedup: float = 1.0) -> Iterator[Uplink]:
    """Hold each uplink back until its simulated time (``start`` is now)."""
    began = time.monotonic()
    for uplink in uplinks:
        due = began + (uplink.sent_at - start).total_seconds() / speedup
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        yield uplink


_PATHS = {
    "tts": "/api/v1/integrations/ttn",
    "chirpstack": "/api/v1/integrations/chirpstack?event=up",
}


def publish(uplinks: Iterable[Uplink], url: str, *, client_id: str = "sim-lorawan") -> int:
    """Publish with QoS 1, waiting for every PUBACK; the number published."""
    host, port, tls, user, password = mqtt_endpoint(url)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    if user:
        client.username_pw_set(user, password)
    if tls:
        client.tls_set()
    client.connect(host, port)
    client.loop_start()
    sent = 0
    try:
        pending = []
        for uplink in uplinks:
            pending.append(client.publish(uplink.topic, uplink.payload, qos=1))
            sent += 1
            if len(pending) >= 200:
                for info in pending:
                    info.wait_for_publish(30)
                pending.clear()
        for info in pending:
            info.wait_for_publish(30)
    finally:
        client.loop_stop()
        client.disconnect()
    return sent


def post(
    uplinks: Iterable[Uplink],
    hub_url: str,
    key: str,
    *,
    network: Literal["tts", "chirpstack"],
    give_up_s: float = 300,
) -> dict[int, int]:
    """POST each uplink to the hub's webhook for ``network`` until it is answered
    2xx or 4xx (a refusal is final); count the answers by status."""
    statuses: dict[int, int] = {}
    url = hub_url.rstrip("/") + _PATHS[network]
    with httpx.Client(timeout=30, headers={"Authorization": f"Bearer {key}"}) as client:
        for uplink in uplinks:
            deadline = time.monotonic() + give_up_s
            while True:
                try:
                    r = client.post(url, content=uplink.payload)
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(1)
                    continue
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                if r.status_code < 500 or time.monotonic() > deadline:
                    break
                time.sleep(float(r.headers.get("Retry-After", "1")))
    return statuses
