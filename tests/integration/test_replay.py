"""Replay of dead letters against a real hub and PostgreSQL: what a fixed profile or
a newly registered device now decodes is stored once; a second replay adds nothing."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest
import yaml

from hub.commands.apikeys import create as create_key
from hub.devstack import Devstack
from hub.store.db import connect
from tests.integration.api_helpers import SHIPPED_PROFILES, ApiHub, start_hub
from tests.integration.helpers import hub_env
from tests.lorawan_messages import tts_uplink

NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
EUI = "70B3D57ED00A0001"


@pytest.fixture(scope="module")
def profiles_without_mapping() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="hub-replay-profiles-"))
    for path in SHIPPED_PROFILES.glob("*.yaml"):
        shutil.copy(path, folder / path.name)
    water = yaml.safe_load((folder / "water_meter.yaml").read_text())
    del water["decoded"]  # the municipality has not written the mapping yet
    (folder / "water_meter.yaml").write_text(yaml.safe_dump(water, sort_keys=False))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def hub(stack: Devstack, profiles_without_mapping: Path) -> Iterator[ApiHub]:
    logs = Path(tempfile.mkdtemp(prefix="hub-replay-"))
    api = start_hub(stack, logs, profiles_dir=profiles_without_mapping)
    api.keys["ingest"] = create_key(api.settings, role="ingest", name="ttn", out=io.StringIO())
    with api.client("operator") as client:
        r = client.post(
            "/api/v1/devices", json={"device_id": "wm-r1", "profile": "water_meter", "dev_eui": EUI}
        )
        assert r.status_code == 201, r.text
    yield api
    api.stop()


def _send(hub: ApiHub, f_cnt: int, dev_eui: str = EUI, device_id: str = "wm-storgata-1") -> int:
    uplink = tts_uplink(
        device_id=device_id,
        dev_eui=dev_eui,
        application_id="town-water",
        received_at=NOW + timedelta(minutes=f_cnt),
        f_cnt=f_cnt,
        decoded={"current_volume_m3": 100 + f_cnt / 1000},
    )
    with httpx.Client(base_url=hub.url, timeout=30) as client:
        r = client.post(
            "/api/v1/integrations/ttn",
            content=orjson.dumps(uplink),
            headers={"Authorization": f"Bearer {hub.keys['ingest']}"},
        )
    return r.status_code


def _volumes(hub: ApiHub, device_id: str) -> list[float]:
    with connect(hub.settings.database_url, "test") as conn:
        rows = conn.execute(
            """SELECT r.value FROM readings r JOIN series s ON s.id = r.series_id
               JOIN devices d ON d.id = s.device
               WHERE d.device_id = %s AND s.metric = 'volume' ORDER BY r.time""",
            (device_id,),
        ).fetchall()
    return [v for (v,) in rows]


def _letters(hub: ApiHub, reason: str) -> list[tuple[str, bool]]:
    with connect(hub.settings.database_url, "test") as conn:
        rows = conn.execute(
            "SELECT reason, replayed_at IS NOT NULL FROM dead_letters WHERE detail LIKE %s "
            "OR reason = %s ORDER BY id",
            (f"%{reason}%", reason),
        ).fetchall()
    return [(r, done) for r, done in rows]


def _replay_cli(hub: ApiHub, profiles: Path) -> str:
    env = hub_env(hub.settings, HUB_PROFILES_DIR=str(profiles))
    done = subprocess.run(
        [sys.executable, "-m", "hub", "dead-letters", "replay", "--reason", "no_mapping"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


def test_letters_refused_for_a_missing_mapping_are_stored_once_after_the_fix(
    hub: ApiHub,
) -> None:
    assert [_send(hub, n) for n in (1, 2, 3)] == [422, 422, 422]
    assert _volumes(hub, "wm-r1") == []
    assert [r for r, _ in _letters(hub, "no_mapping")] == ["no_mapping"] * 3
    # Fixed: the shipped profile has the decoded: mapping of the meter's codec.
    first = _replay_cli(hub, SHIPPED_PROFILES)
    assert "3 dead letter(s) replayed: 3 stored" in first
    assert _volumes(hub, "wm-r1") == [100.001, 100.002, 100.003]
    assert all(done for _, done in _letters(hub, "no_mapping"))
    # A water meter's letters are personal data: listed to a key with the permission.
    with hub.client("personal") as client:
        listed = client.get("/api/v1/dead-letters", params={"reason": "no_mapping"}).json()
    assert [(d["format"], d["replayed_at"] is not None) for d in listed["items"]] == [
        ("tts_v3", True)
    ] * 3
    with hub.client("operator") as client:
        hidden = client.get("/api/v1/dead-letters", params={"reason": "no_mapping"}).json()
    assert hidden["items"] == []
    second = _replay_cli(hub, SHIPPED_PROFILES)
    assert "0 dead letter(s) replayed" in second
    assert _volumes(hub, "wm-r1") == [100.001, 100.002, 100.003]


def test_api_replay_stores_an_unknown_device_once_it_is_registered(hub: ApiHub) -> None:
    other = "70B3D57ED00A0002"
    assert _send(hub, 7, dev_eui=other, device_id="wm-late") == 422  # unknown_device
    with hub.client("operator") as client:
        still = client.post("/api/v1/dead-letters/replay", json={"reasons": ["unknown_device"]})
        assert still.status_code == 200, still.text
        assert still.json()["stored"] == 0
        assert still.json()["still_refused"] == {"unknown_device": 1}
        r = client.post(
            "/api/v1/devices",
            json={"device_id": "wm-late", "profile": "water_meter", "dev_eui": other},
        )
        assert r.status_code == 201
        # This hub's profiles lack the mapping: the letter now fails for that reason.
        again = client.post("/api/v1/dead-letters/replay", json={"reasons": ["unknown_device"]})
        assert again.json() == {
            "examined": 1,
            "stored": 0,
            "readings": 0,
            "still_refused": {"no_mapping": 1},
        }
    with hub.client("viewer") as client:
        assert client.post("/api/v1/dead-letters/replay", json={}).status_code == 403
