"""The push of changed entities to a context broker, against a real HTTP server
standing in for the broker's upsert endpoint: every change arrives, a 30 s outage
and a hub restart lose nothing and send nothing twice, and the backlog shows in
/readyz and /metrics while the broker is away."""

from __future__ import annotations

import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import orjson

from hub.devstack import Devstack
from tests.integration.api_helpers import SHIPPED_PROFILES, ApiHub, start_hub
from tests.integration.helpers import wait_for
from tests.integration.ngsi_fleet import DEVICES, START, aq_values, sl_values, wm_values
from tests.integration.ngsi_receiver import Receiver

OUTAGE_S = 30


def _register(hub: ApiHub) -> None:
    with hub.client("operator") as client:
        for device_id, (profile, lon, lat, _) in DEVICES.items():
            r = client.post(
                "/api/v1/devices",
                json={"device_id": device_id, "profile": profile, "lat": lat, "lon": lon},
            )
            assert r.status_code == 201, r.text


def _publish_round(hub: ApiHub, i: int, devices: tuple[str, ...] = tuple(DEVICES)) -> None:
    ms = int(START.timestamp() * 1000) + i * 60_000
    messages = []
    for device_id in devices:
        profile = DEVICES[device_id][0]
        if profile == "air_quality":
            payload: dict[str, Any] = {"ts": ms, "metrics": aq_values(device_id, i)}
        elif profile == "street_light":
            payload = {"ts": ms, **sl_values(i)}
        else:
            payload = {"ts": ms, **wm_values(i)}
        messages.append((hub.topic(device_id, profile), orjson.dumps(payload)))
    hub.publish(messages)


def _hub_entities(hub: ApiHub) -> dict[str, dict[str, Any]]:
    with hub.client("viewer") as client:
        r = client.get("/ngsi-ld/v1/entities", params={"limit": 100})
    assert r.status_code == 200, r.text
    return {e["id"]: e for e in r.json()}


def _latest_received(receiver: Receiver) -> dict[str, dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for entity in receiver.entities():
        latest[entity["id"]] = {k: v for k, v in entity.items() if k != "@context"}
    return latest


def _arrived(hub: ApiHub, receiver: Receiver) -> bool:
    # The broker holds exactly what the hub's own NGSI-LD API shows.
    return _latest_received(receiver) == _hub_entities(hub)


def _duplicates(receiver: Receiver) -> list[str]:
    seen: dict[str, set[bytes]] = defaultdict(set)
    twice = []
    for entity in receiver.entities():
        body = orjson.dumps(entity, option=orjson.OPT_SORT_KEYS)
        if body in seen[entity["id"]]:
            twice.append(entity["id"])
        seen[entity["id"]].add(body)
    return twice


def _detail(hub: ApiHub) -> dict[str, Any]:
    detail: dict[str, Any] = httpx.get(f"{hub.url}/readyz", timeout=5).json()["detail"]
    return detail["ngsi_ld_push"]  # type: ignore[no-any-return]


def test_push_sends_every_change_once_through_an_outage_and_a_restart(
    stack: Devstack, default_storage: str
) -> None:
    receiver = Receiver().start()
    hub = start_hub(
        stack,
        Path(tempfile.mkdtemp(prefix="hub-ngsi-push-")),
        storage=default_storage,
        profiles_dir=SHIPPED_PROFILES,
        HUB_NGSI_LD_BROKER_URL=receiver.url,
        HUB_NGSI_LD_BROKER_TENANT="kommune",
        HUB_NGSI_LD_BROKER_TOKEN="test-token",
        HUB_NGSI_LD_PUSH_INTERVAL_S="0.2",
        HUB_NGSI_LD_PUSH_BACKOFF_MAX_S="2",
        HUB_NGSI_LD_PUSH_BATCH="4",
    )
    try:
        _register(hub)
        _publish_round(hub, 0)
        wait_for(lambda: _arrived(hub, receiver), 30, "the first entities at the broker")
        # The water meter's two entities stay home: personal data (docs/privacy.md).
        received = _latest_received(receiver)
        assert len(received) == 6 and not any("wm-1" in entity for entity in received)
        request = receiver.received("/upsert")[0]
        assert request.path == "/ngsi-ld/v1/entityOperations/upsert"
        assert request.headers["content-type"] == "application/ld+json"
        assert request.headers["ngsild-tenant"] == "kommune"
        assert request.headers["authorization"] == "Bearer test-token"
        assert len(request.body) <= 4 and all("@context" in e for e in request.body)

        # Changes in quick succession: coalesced per entity, the last state arrives.
        for i in (1, 2, 3):
            _publish_round(hub, i)
        hub.wait_stored("wm-1", 4 * 4)  # round 3 committed: the broker must catch up with it
        wait_for(lambda: _arrived(hub, receiver), 30, "round 3 at the broker")

        # The broker goes away for 30 s while the town keeps reporting.
        receiver.stop()
        down_at = time.monotonic()
        for i in (4, 5):
            _publish_round(hub, i)
        hub.wait_stored("wm-1", 6 * 4)
        wait_for(lambda: _detail(hub)["failures"] > 0, 20, "the push to notice the outage")
        detail = _detail(hub)
        assert detail["backlog_devices"] > 0 and detail["last_error"]
        metrics = httpx.get(f"{hub.url}/metrics", timeout=5).text
        assert "hub_ngsi_push_backlog_devices" in metrics
        lags = []
        while time.monotonic() - down_at < OUTAGE_S:
            lags.append(_detail(hub)["lag_s"])
            time.sleep(1)
        assert lags[-1] > lags[0] and lags[-1] >= OUTAGE_S - 10
        receiver.start()
        wait_for(lambda: _arrived(hub, receiver), 30, "the changes of the outage at the broker")
        wait_for(lambda: _detail(hub)["backlog_devices"] == 0, 10, "an empty backlog")
        assert _detail(hub)["lag_s"] == 0
        assert _duplicates(receiver) == []

        # A restart resends nothing that the broker has, and goes on with new changes.
        before = len(receiver.entities())
        hub.process.stop()
        hub.process.start()
        hub.process.wait_ready()
        in_hub = _hub_entities(hub)
        _publish_round(hub, 6, ("aq-1",))
        wait_for(lambda: _hub_entities(hub) != in_hub, 30, "aq-1's change in the hub")
        wait_for(lambda: _arrived(hub, receiver), 30, "aq-1's change after the restart")
        after = receiver.entities()[before:]
        assert sorted(e["id"] for e in after) == [
            "urn:ngsi-ld:AirQualityObserved:aq-1",
            "urn:ngsi-ld:Device:aq-1",
        ]
        assert _duplicates(receiver) == []
    finally:
        hub.stop()
        receiver.stop()
