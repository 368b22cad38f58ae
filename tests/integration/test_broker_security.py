"""The project's production mosquitto.conf and ACL, run on a private Mosquitto with
only ports and paths changed: no anonymous access, passwords checked, a device can
publish only on its own topics, the hub user receives device telemetry."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from hub.config import Settings
from hub.devstack import Mosquitto
from hub.provisioning import DeviceSpec, set_acl_entries, set_passwords
from hub.store.db import connect
from tests.integration.helpers import HubProcess, hub_env, wait_for

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
    """The production configuration, with users written by the hub's provisioning."""
    shutil.copy(ROOT / "deploy" / "mosquitto" / "acl", open_tmp / "acl")
    set_passwords(open_tmp / "passwd", USERS)
    set_acl_entries(
        open_tmp / "acl",
        [DeviceSpec("wm-0001", "water_meter"), DeviceSpec("wm-0002", "water_meter")],
        "city",
    )
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
        self.client._reset_sockets()  # paho's loopback socket pair, else closed only by GC


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

    # As device B (spoofed): the broker must not pass it on. The broker may drop
    # a connection that publishes where it may not, so the spoof has its own.
    spoofer = _Client(secure_broker.port, "wm-0001", USERS["wm-0001"])
    assert spoofer.connected.wait(5) and spoofer.connack == 0
    spoof = spoofer.client.publish("city/water_meter/wm-0002/telemetry", b'{"flow": 1}', qos=1)
    # The broker has dealt with the spoof once it acknowledged it or dropped the client.
    wait_for(
        lambda: spoof.is_published() or not spoofer.client.is_connected(),
        5,
        "the broker to answer the spoofed publish",
        every=0.05,
    )
    spoofer.close()
    # Its own topic: delivered.
    device_a = _Client(secure_broker.port, "wm-0001", USERS["wm-0001"])
    assert device_a.connected.wait(5) and device_a.connack == 0
    device_a.client.publish(
        "city/water_meter/wm-0001/telemetry", b'{"flow": 2}', qos=1
    ).wait_for_publish(5)
    # A marker from device B itself, to know delivery has caught up.
    device_b = _Client(secure_broker.port, "wm-0002", USERS["wm-0002"])
    assert device_b.connected.wait(5)
    device_b.client.publish(
        "city/water_meter/wm-0002/telemetry", b'{"flow": 3}', qos=1
    ).wait_for_publish(5)

    marker = ("city/water_meter/wm-0002/telemetry", b'{"flow": 3}')
    wait_for(lambda: marker in hub.messages, 5, "the marker to reach the hub", every=0.05)
    for client in (hub, device_a, device_b):
        client.close()
    assert sorted(hub.messages) == [
        ("city/water_meter/wm-0001/telemetry", b'{"flow": 2}'),
        ("city/water_meter/wm-0002/telemetry", b'{"flow": 3}'),
    ]


def _provision(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", "devices", "provision", *args],
        env=hub_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_provision_command_registers_the_device_and_the_broker_accepts_it(
    migrated: Settings, open_tmp: Path
) -> None:
    shutil.copy(ROOT / "deploy" / "mosquitto" / "acl", open_tmp / "acl")
    files = ["--passwd-file", str(open_tmp / "passwd"), "--acl-file", str(open_tmp / "acl")]
    result = _provision(
        migrated,
        "lm-77",
        "--profile",
        "load_meter",
        "--lat",
        "60.8",
        "--lon",
        "11.07",
        "--district",
        "Sentrum",
        *files,
    )
    assert result.returncode == 0, result.stderr
    header, line = result.stdout.strip().splitlines()
    assert header == "device_id,password"
    device_id, password = line.split(",")
    assert device_id == "lm-77" and len(password) >= 20
    assert password not in (open_tmp / "passwd").read_text()  # stored hashed
    acl = (open_tmp / "acl").read_text()
    assert f"user lm-77\ntopic write {migrated.topic_prefix}/load_meter/lm-77/telemetry" in acl

    with connect(migrated.database_url, "test") as conn:
        row = conn.execute(
            "SELECT profile, lat, lon, district FROM devices WHERE device_id = 'lm-77'"
        ).fetchone()
    assert row == ("load_meter", 60.8, 11.07, "Sentrum")

    broker = Mosquitto(open_tmp)
    broker.config = production_config(open_tmp, broker.port)
    broker.start()
    try:
        assert _connack(broker.port, "lm-77", password) == 0
        assert _connack(broker.port, "lm-77", password + "x") not in (None, 0)
    finally:
        broker.stop()


def test_bulk_provisioning_from_csv_and_again_replaces_the_password(
    migrated: Settings, open_tmp: Path
) -> None:
    (open_tmp / "devices.csv").write_text(
        "device_id,profile,lat,lon,district\nlm-1,load_meter,60.1,11.1,Nord\nlm-2,load_meter,,,\n"
    )
    files = ["--passwd-file", str(open_tmp / "passwd"), "--acl-file", str(open_tmp / "acl")]
    first = _provision(migrated, "--csv", str(open_tmp / "devices.csv"), *files)
    assert first.returncode == 0, first.stderr
    assert [line.split(",")[0] for line in first.stdout.splitlines()] == [
        "device_id",
        "lm-1",
        "lm-2",
    ]
    again = _provision(migrated, "lm-1", "--profile", "load_meter", *files)
    assert again.returncode == 0, again.stderr
    users = [line.split(":")[0] for line in (open_tmp / "passwd").read_text().splitlines()]
    assert sorted(users) == ["lm-1", "lm-2"]
    assert (open_tmp / "acl").read_text().count("user lm-1\n") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bad id!", "--profile", "load_meter"], "device id"),
        (["lm-5", "--profile", "no_such"], "unknown profile"),
        (["lm-5", "--profile", "load_meter", "--lat", "61"], "both --lat and --lon"),
    ],
)
def test_provisioning_refuses_bad_input_clearly(
    migrated: Settings, open_tmp: Path, args: list[str], message: str
) -> None:
    files = ["--passwd-file", str(open_tmp / "passwd"), "--acl-file", str(open_tmp / "acl")]
    result = _provision(migrated, *args, *files)
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (open_tmp / "passwd").exists()


def test_the_hub_connects_with_its_password_and_never_logs_it(
    migrated: Settings, secure_broker: Mosquitto, open_tmp: Path
) -> None:
    password = USERS["hub"]
    settings = migrated.model_copy(
        update={
            "mqtt_url": f"mqtt://hub:{password}@127.0.0.1:{secure_broker.port}",
            "topic_prefix": "city",
        }
    )
    hub = HubProcess(settings, open_tmp, HUB_LOG_FORMAT="json", HUB_LOG_LEVEL="DEBUG").start()
    try:
        hub.wait_ready()  # /readyz needs the broker connection: the password worked
    finally:
        hub.stop()
    logs = "".join(p.read_text() for p in open_tmp.glob("hub-*.log"))
    assert "MQTT connected" in logs
    assert password not in logs
