"""The project's production mosquitto.conf and ACL, run on a private Mosquitto with
only ports and paths changed: no anonymous access, passwords checked, a device can
publish only on its own topics, the hub user receives device telemetry."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from hub.devstack import Mosquitto

ROOT = Path(__file__).resolve().parents[2]
USERS = {"hub": "hub-secret-1", "wm-0001": "device-a-pass", "wm-0002": "device-b-pass"}


def production_config(root: Path, port: int) -> str:
    text = (ROOT / "mosquitto.conf").read_text()
    replacements = {
        r"^listener 1883$": f"listener {port} 127.0.0.1",
        r"^password_file .*$": f"password_file {root}/passwd",
        r"^acl_file .*$": f"acl_file {root}/acl",
        r"^persistence_location .*$": f"persistence_location {root}/",
        r"^log_dest .*$": f"log_dest file {root}/mosquitto.log",
    }
    for pattern, value in replacements.items():
        text, count = re.subn(pattern, value, text, flags=re.MULTILINE)
        assert count == 1, f"mosquitto.conf has no single line matching {pattern}"
    return text


@pytest.fixture
def secure_broker(open_tmp: Path) -> Iterator[Mosquitto]:
    passwd = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    (open_tmp / "passwd").touch()
    for user, password in USERS.items():
        subprocess.run([passwd, "-b", str(open_tmp / "passwd"), user, password], check=True)
    shutil.copy(ROOT / "deploy" / "mosquitto" / "acl", open_tmp / "acl")
    broker = Mosquitto(open_tmp)
    broker.config = production_config(open_tmp, broker.port)
    broker.start()
    yield broker
    broker.stop()


class _Client:
    def __init__(self, port: int, user: str | None, password: str | None) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.connack: int | None = None
        self.connected = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
        if user:
            self.client.username_pw_set(user, password)
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_connect(self, c: object, u: object, flags: object, reason: object, p: object) -> None:
        self.connack = int(reason.value)  # type: ignore[attr-defined]
        self.connected.set()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _connack(port: int, user: str | None, password: str | None) -> int | None:
    client = _Client(port, user, password)
    client.connected.wait(5)
    client.close()
    return client.connack


def test_anonymous_and_wrong_password_are_refused(secure_broker: Mosquitto) -> None:
    assert _connack(secure_broker.port, None, None) not in (None, 0)
    assert _connack(secure_broker.port, "hub", "not-the-password") not in (None, 0)
    assert _connack(secure_broker.port, "hub", USERS["hub"]) == 0


def test_device_publishes_only_on_its_own_topics_and_the_hub_receives_them(
    secure_broker: Mosquitto,
) -> None:
    hub = _Client(secure_broker.port, "hub", USERS["hub"])
    assert hub.connected.wait(5) and hub.connack == 0
    subscribed = threading.Event()
    hub.client.on_subscribe = lambda *a: subscribed.set()
    hub.client.subscribe("city/+/+/telemetry", qos=1)
    assert subscribed.wait(5)

    device_a = _Client(secure_broker.port, "wm-0001", USERS["wm-0001"])
    assert device_a.connected.wait(5) and device_a.connack == 0
    # As device B (spoofed): the broker must not pass it on.
    device_a.client.publish(
        "city/water_meter/wm-0002/telemetry", b'{"flow": 1}', qos=1
    ).wait_for_publish(5)
    # Its own topic: delivered.
    device_a.client.publish(
        "city/water_meter/wm-0001/telemetry", b'{"flow": 2}', qos=1
    ).wait_for_publish(5)
    # A marker from device B itself, to know delivery has caught up.
    device_b = _Client(secure_broker.port, "wm-0002", USERS["wm-0002"])
    assert device_b.connected.wait(5)
    device_b.client.publish(
        "city/water_meter/wm-0002/telemetry", b'{"flow": 3}', qos=1
    ).wait_for_publish(5)

    deadline = threading.Event()
    for _ in range(50):
        if len(hub.messages) >= 2:
            break
        deadline.wait(0.1)
    for client in (hub, device_a, device_b):
        client.close()
    assert sorted(hub.messages) == [
        ("city/water_meter/wm-0001/telemetry", b'{"flow": 2}'),
        ("city/water_meter/wm-0002/telemetry", b'{"flow": 3}'),
    ]
