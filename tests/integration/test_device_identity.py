"""A device's LoRaWAN DevEUI and network-server id: set through the API and
``hub devices provision``, unique, and how the network-server uplinks find it."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.config import Settings
from hub.devstack import Devstack
from hub.store.db import connect
from tests.integration.api_helpers import SHIPPED_PROFILES, ApiHub, start_hub
from tests.integration.helpers import hub_env


@pytest.fixture(scope="module")
def hub(stack: Devstack) -> Iterator[ApiHub]:
    logs = Path(tempfile.mkdtemp(prefix="hub-identity-"))
    api = start_hub(stack, logs, profiles_dir=SHIPPED_PROFILES)
    yield api
    api.stop()


def test_dev_eui_and_external_id_through_the_api_are_unique(hub: ApiHub) -> None:
    with hub.client("operator") as client:
        created = client.post(
            "/api/v1/devices",
            json={"device_id": "wm-id1", "profile": "water_meter", "dev_eui": "a84041000181c0a1"},
        )
        assert created.status_code == 201, created.text
        assert created.json()["dev_eui"] == "A84041000181C0A1"
        taken = client.post(
            "/api/v1/devices",
            json={"device_id": "wm-id2", "profile": "water_meter", "dev_eui": "A84041000181C0A1"},
        )
        assert taken.status_code == 409
        assert "dev_eui" in taken.json()["detail"]
        bad = client.post(
            "/api/v1/devices",
            json={"device_id": "wm-id3", "profile": "water_meter", "dev_eui": "A84041"},
        )
        assert bad.status_code == 422
        assert bad.json()["invalid_params"][0]["name"] == "dev_eui"
        patched = client.patch("/api/v1/devices/wm-id1", json={"external_id": "wm-storgata-7"})
        assert patched.status_code == 200
        assert patched.json()["external_id"] == "wm-storgata-7"
        assert (
            client.post(
                "/api/v1/devices",
                json={
                    "device_id": "wm-id4",
                    "profile": "water_meter",
                    "external_id": "wm-storgata-7",
                },
            ).status_code
            == 409
        )
        cleared = client.patch("/api/v1/devices/wm-id1", json={"dev_eui": None})
        assert cleared.status_code == 200 and cleared.json()["dev_eui"] is None


def _provision(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", "devices", "provision", *args],
        env=hub_env(settings, HUB_PROFILES_DIR=str(SHIPPED_PROFILES)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_provision_registers_lorawan_devices_without_mqtt_logins(
    migrated: Settings, tmp_path: Path
) -> None:
    one = _provision(
        migrated, "aq-id1", "--profile", "air_quality", "--dev-eui", "0004a30b001c0531",
        "--external-id", "aq-torget",
    )  # fmt: skip
    assert one.returncode == 0, one.stderr
    assert "aq-id1," in one.stdout  # no password: it sends through its network server
    table = tmp_path / "lorawan.csv"
    table.write_text(
        "device_id,profile,lat,lon,district,dev_eui,external_id\n"
        "sl-id1,street_light,60.79,11.07,Sentrum,A84041000181C0B1,sl-storgata-1\n"
        "sl-id2,street_light,,,,A84041000181C0B2,\n"
    )
    two = _provision(migrated, "--csv", str(table))
    assert two.returncode == 0, two.stderr
    again = _provision(
        migrated, "sl-id3", "--profile", "street_light", "--dev-eui", "A84041000181C0B2"
    )
    assert again.returncode == 1 and "already another device's" in again.stderr
    wrong = _provision(migrated, "sl-id4", "--profile", "street_light", "--dev-eui", "xyz")
    assert wrong.returncode == 1 and "not 16 hex digits" in wrong.stderr
    with connect(migrated.database_url, "test") as conn:
        rows = conn.execute(
            "SELECT device_id, profile, dev_eui, external_id, district FROM devices ORDER BY 1"
        ).fetchall()
    assert rows == [
        ("aq-id1", "air_quality", "0004A30B001C0531", "aq-torget", None),
        ("sl-id1", "street_light", "A84041000181C0B1", "sl-storgata-1", "Sentrum"),
        ("sl-id2", "street_light", "A84041000181C0B2", None, None),
    ]
