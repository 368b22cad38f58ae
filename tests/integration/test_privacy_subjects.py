"""Data subject requests against a running hub at both storage levels: export
writes everything the hub holds on a household's meter (registry, readings,
rollups, alerts, rules, dead letters, access log) as a zip of CSV + JSON, by the
command and by the admin API; erase deletes all of it, so that no route and no
table shows the device afterwards, keeps a record that it happened, and leaves the
other households' rollups (and so their district aggregates) as they were."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from hub.commands.apikeys import create as create_key
from hub.devstack import Devstack
from hub.privacy import aggregates
from hub.store import bulk
from hub.store.db import aconnect, connect
from tests.integration.api_helpers import SHIPPED_PROFILES, ApiHub, start_hub
from tests.integration.helpers import hub_env, wait_for

TARGET = "wm-erase"
OTHERS = [f"wm-keep{i}" for i in range(5)]
SAMPLES = 12
STEP = timedelta(minutes=15)


def _payload(i: int, start: datetime, flow: float = 30.0) -> bytes:
    ts = (start + i * STEP).isoformat().replace("+00:00", "Z")
    return orjson.dumps({"ts": ts, "volume": 100.0 + i * 0.125, "flow": flow})


@pytest.fixture
def town(stack: Devstack, storage: str) -> Iterator[ApiHub]:
    hub = start_hub(
        stack,
        Path(tempfile.mkdtemp(prefix="hub-subjects-")),
        storage=storage,
        profiles_dir=SHIPPED_PROFILES,
        HUB_OPEN_DATA="true",
    )
    hub.keys["personal"] = create_key(
        hub.settings, role="admin", name="dpo", permissions=("personal",), out=io.StringIO()
    )
    try:
        start = datetime.now(UTC).replace(second=0, microsecond=0) - SAMPLES * STEP
        with hub.client("operator") as client:
            for n, device in enumerate([TARGET, *OTHERS]):
                r = client.post(
                    "/api/v1/devices",
                    json={
                        "device_id": device,
                        "profile": "water_meter",
                        "district": "Sentrum",
                        "lat": 60.79 + n * 0.001,
                        "lon": 11.07,
                    },
                )
                assert r.status_code == 201, r.text
            rule = client.post(
                "/api/v1/rules",
                json={
                    "name": "burst here",
                    "kind": "threshold",
                    "profile": "water_meter",
                    "device_id": TARGET,
                    "metric": "flow",
                    "parameters": {"above": 9000},
                    "severity": "critical",
                },
            )
            assert rule.status_code == 201, rule.text
        hub.publish(
            (hub.topic(device, "water_meter"), _payload(i, start))
            for device in [TARGET, *OTHERS]
            for i in range(SAMPLES)
        )
        for device in [TARGET, *OTHERS]:
            hub.wait_stored(device, SAMPLES * 2)
        # a burst (an alert) and a refused message (a dead letter) of the household
        hub.publish([(hub.topic(TARGET, "water_meter"), _payload(SAMPLES, start, flow=9500.0))])
        hub.publish([(hub.topic(TARGET, "water_meter"), b'{"volume": "lots"}')])

        def alert_and_letter() -> bool:
            with hub.client("personal") as client:
                alerts = client.get("/api/v1/alerts", params={"device_id": TARGET}).json()
                letters = client.get("/api/v1/dead-letters", params={"device_id": TARGET}).json()
            return bool(alerts["items"]) and bool(letters["items"])

        wait_for(alert_and_letter, 30, "the household's alert and dead letter")
        with connect(hub.settings.database_url, "test") as conn:
            conn.execute(
                "INSERT INTO personal_access_log (key_id, key_name, device_id, what, rows) "
                "VALUES (1, 'auditor', %s, 'readings', 24)",
                (TARGET,),
            )
        yield hub
    finally:
        hub.stop()


def _zip_files(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _rows(files: dict[str, bytes], name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(files[name].decode())))


def _check_export(files: dict[str, bytes], stored: int) -> None:
    manifest = json.loads(files["manifest.json"])
    assert manifest["device_id"] == TARGET and manifest["data_class"] == "personal"
    registry = json.loads(files["device.json"])
    assert registry["device"]["device_id"] == TARGET
    assert registry["device"]["lat"] is not None  # the exact place: it is theirs to see
    assert {s["metric"] for s in registry["series"]} == {"volume", "flow"}
    readings = _rows(files, "readings.csv")
    assert len(readings) == stored == manifest["files"]["readings.csv"]
    assert {"9500.0"} <= {r["value"] for r in readings}
    assert _rows(files, "readings_hourly.csv") and _rows(files, "readings_daily.csv")
    alerts = json.loads(files["alerts.json"])
    assert [a["rule"]["name"] for a in alerts] == ["burst here"]
    assert alerts[0]["events"][0]["state"] == "open"
    assert [r["name"] for r in json.loads(files["rules.json"])] == ["burst here"]
    letters = json.loads(files["dead_letters.json"])
    assert [json.loads(letter["payload_text"]) for letter in letters] == [{"volume": "lots"}]
    assert "auditor" in [e["key_name"] for e in _rows(files, "access_log.csv")]


def _cli(hub: ApiHub, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", "privacy", *args],
        env=hub_env(hub.settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _other_rollups(hub: ApiHub) -> list[tuple[Any, ...]]:
    with connect(hub.settings.database_url, "test") as conn:
        return conn.execute(
            "SELECT d.device_id, s.metric, h.bucket, h.count, h.sum, h.min, h.max "
            "FROM readings_1h h JOIN series s ON s.id = h.series_id "
            "JOIN devices d ON d.id = s.device WHERE d.device_id LIKE 'wm-keep%' ORDER BY 1, 2, 3"
        ).fetchall()


async def _district_use(hub: ApiHub) -> tuple[float, int]:
    """Sentrum's water use over the last two days from the aggregates (sum, meters)."""
    now = datetime.now(UTC)
    async with await aconnect(hub.settings.database_url, "test") as conn:
        found = await aggregates.district_aggregates(
            conn,
            metric="volume",
            bucket="day",
            start=now - timedelta(days=2),
            end=now + timedelta(hours=1),
            min_group=5,
            timezone="Europe/Oslo",
            counter=True,
        )
    assert found and not any(a.suppressed for a in found)
    return sum(a.sum or 0 for a in found), max(a.meters or 0 for a in found)


def _refresh(hub: ApiHub, storage: str) -> None:
    if storage == "timescale":
        with connect(hub.settings.database_url, "test", autocommit=True) as conn:
            for statement in bulk.REFRESH_CAGGS:
                conn.execute(statement)


# What the routes list, with the most permissive key: none may show the device.
ROUTES = [
    "/api/v1/devices?limit=1000",
    f"/api/v1/devices?q={TARGET}",
    "/api/v1/readings/latest",
    "/api/v1/alerts?limit=1000",
    "/api/v1/alerts?state=resolved&limit=1000",
    "/api/v1/rules",
    "/api/v1/dead-letters?limit=1000",
    "/api/v1/exports/devices.geojson",
    "/sta/v1.1/Things",
    "/sta/v1.1/Datastreams",
    "/ngsi-ld/v1/entities?type=WaterConsumptionObserved&limit=1000",
]


def test_export_then_erase_leaves_nothing_of_the_household(
    town: ApiHub, storage: str, open_tmp: Path
) -> None:
    hub = town
    stored = hub.readings_stored(TARGET)
    assert stored == (SAMPLES + 1) * 2  # volume and flow, the burst included

    # export: the command, with its progress on stderr, and the admin API
    out = open_tmp / "export.zip"
    done = _cli(hub, "export", "--device", TARGET, "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "readings" in done.stderr  # the progress bar's steps
    _check_export(_zip_files(out.read_bytes()), stored)
    with hub.client("admin") as client:  # admin without the personal permission
        refused = client.get(f"/api/v1/privacy/devices/{TARGET}/export.zip")
    assert refused.status_code == 403, refused.text
    with hub.client("personal") as client:
        r = client.get(f"/api/v1/privacy/devices/{TARGET}/export.zip")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    _check_export(_zip_files(r.content), stored)

    # erase, by the admin API; the others' rollups stay as they were
    _refresh(hub, storage)
    before = _other_rollups(hub)
    volumes = [float(r["value"]) for r in _rows(_zip_files(r.content), "readings.csv")
               if r["metric"] == "volume"]  # fmt: skip
    use_before = asyncio.run(_district_use(hub))
    assert use_before[1] == 6
    with connect(hub.settings.database_url, "test") as conn:
        series = [
            row[0]
            for row in conn.execute(
                "SELECT s.id FROM series s JOIN devices d ON d.id = s.device "
                "WHERE d.device_id = %s",
                (TARGET,),
            ).fetchall()
        ]
    with hub.client("admin") as client:
        erased = client.post(f"/api/v1/privacy/devices/{TARGET}/erase")
    assert erased.status_code == 200, erased.text
    counts = erased.json()["counts"]
    assert counts["readings"] == stored and counts["dead_letters"] == 1
    assert counts["alerts"] == 1 and counts["rules"] == 1 and counts["devices"] == 1
    _refresh(hub, storage)
    assert _other_rollups(hub) == before
    # the district's aggregate still adds up: the five others, the household's use gone
    total, meters = asyncio.run(_district_use(hub))
    assert meters == 5
    assert total == pytest.approx(use_before[0] - (max(volumes) - min(volumes)))

    # no route shows it
    with hub.client("personal") as client:
        assert client.get(f"/api/v1/devices/{TARGET}").status_code == 404
        assert client.get(f"/api/v1/devices/{TARGET}/readings").status_code == 404
        for route in ROUTES:
            r = client.get(route)
            assert r.status_code == 200, (route, r.text)
            assert TARGET not in r.text, route
        since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        csv_export = client.get("/api/v1/exports/readings.csv", params={"from": since})
        assert csv_export.status_code == 200 and TARGET not in csv_export.text
        records = client.get("/api/v1/privacy/erasures", params={"device_id": TARGET}).json()
    assert [r["requested_by"] for r in records] == ["apikey:3:test admin"]

    # no table holds it: its series' rows are gone, and no row of any table names it
    with connect(hub.settings.database_url, "test") as conn:
        for table in ("readings", "readings_1h", "readings_1d", "series"):
            column = "id" if table == "series" else "series_id"
            found = conn.execute(
                f"SELECT count(*) FROM {table} WHERE {column} = ANY(%s)", (series,)
            ).fetchone()
            assert found == (0,), table
        tables = conn.execute(
            "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables "
            "WHERE schemaname IN ('public', '_timescaledb_internal')"
        ).fetchall()
        for (table,) in tables:
            found = conn.execute(
                f"SELECT count(*) FROM {table} t WHERE t::text LIKE %s", (f"%{TARGET}%",)
            ).fetchone()
            assert found == (0,), table
        log = conn.execute(
            "SELECT device_id, key_name FROM personal_access_log WHERE device_id LIKE 'erased:%'"
        ).fetchall()
        names = [k for _, k in log]
        # the reads before the erasure stay in the audit trail, the exports included
        assert "auditor" in names and "dpo" in names
        assert any(k.startswith("hub privacy export (user ") for k in names)
    # the command says so too, and a second erasure finds nothing
    again = _cli(hub, "erase", "--device", TARGET, "--yes")
    assert again.returncode == 1 and "no device" in again.stderr
