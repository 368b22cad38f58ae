"""A device that falls silent becomes offline: past its profile's offline time the
hub marks it offline (status, /api/v1/devices and its status filter, a live status
event), and its next reading makes it online again. A last will keeps it offline
until the device speaks again with a birth message."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.devstack import Devstack
from hub.store.db import connect
from tests.integration.api_helpers import TEST_PROFILES, ApiHub, Listener, start_hub
from tests.integration.helpers import telemetry, wait_for

OFFLINE_AFTER_S = 3  # expected_interval_s 2 x offline_factor 1.5


@pytest.fixture(scope="module")
def hub(stack: Devstack) -> Iterator[ApiHub]:
    profiles = Path(tempfile.mkdtemp(prefix="hub-silence-profiles-"))
    text = (TEST_PROFILES / "load_meter.yaml").read_text()
    text = text.replace("expected_interval_s: 60", "expected_interval_s: 2\noffline_factor: 1.5")
    assert "expected_interval_s: 2" in text
    (profiles / "load_meter.yaml").write_text(text)
    api = start_hub(stack, Path(tempfile.mkdtemp(prefix="hub-silence-")), profiles_dir=profiles)
    yield api
    api.stop()


def _now_ms() -> int:
    return int(time.time() * 1000)


def _status(hub: ApiHub, device_id: str) -> str:
    with hub.client("viewer") as client:
        status: str = client.get(f"/api/v1/devices/{device_id}").json()["status"]
    return status


def test_silence_makes_a_device_offline_and_a_reading_brings_it_back(hub: ApiHub) -> None:
    device = "lm-quiet"
    with Listener(hub, type="status", device=device) as live:
        hub.publish([(hub.topic(device), telemetry(1, _now_ms()))])
        hub.wait_stored(device, 3)
        assert _status(hub, device) in {"online", "unknown"}
        # silent: offline past 3 s, announced on the stream
        events = live.take("status", 1, timeout=OFFLINE_AFTER_S + 15)
        assert events[0]["status"] == "offline"  # type: ignore[index]
        assert _status(hub, device) == "offline"
        with hub.client("viewer") as client:
            offline = client.get("/api/v1/devices", params={"status": "offline"}).json()["items"]
        assert device in [d["device_id"] for d in offline]
        # it speaks again: online
        hub.publish([(hub.topic(device), telemetry(2, _now_ms()))])
        events = live.take("status", 1, timeout=15)
        assert events[0]["status"] == "online"  # type: ignore[index]
    assert _status(hub, device) == "online"


def _source(hub: ApiHub, device_id: str) -> tuple[str, str]:
    with connect(hub.settings.database_url, "test", autocommit=True) as conn:
        row = conn.execute(
            "SELECT status, status_source FROM devices WHERE device_id = %s", (device_id,)
        ).fetchone()
    assert row is not None
    return row[0], row[1]


def test_a_last_will_after_the_silence_is_the_devices_word(hub: ApiHub) -> None:
    device = "lm-will"
    hub.publish([(hub.topic(device), telemetry(1, _now_ms()))])
    hub.wait_stored(device, 3)
    wait_for(
        lambda: _source(hub, device) == ("offline", "silence"), OFFLINE_AFTER_S + 15, "silence"
    )
    # the broker's last will arrives after the hub marked the device silent: now the
    # device's own word holds, and only its birth message makes it online
    hub.publish([(hub.topic(device, kind="status"), b"offline")])
    wait_for(lambda: _source(hub, device) == ("offline", "message"), 15, "the last will")
    hub.publish([(hub.topic(device, kind="status"), b"online")])
    wait_for(lambda: _status(hub, device) == "online", 15, "the birth message")
