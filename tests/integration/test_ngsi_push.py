"""The push of changed entities to a context broker, against a real HTTP server
standing in for the broker's upsert endpoint: every change arrives, a 30 s outage
and a hub restart lose nothing and send nothing twice, and the backlog shows in
/readyz and /metrics while the broker is away."""

from __future__ import annotations

import os
import signal
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
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


def _publish_round(
    hub: ApiHub, i: int, devices: tuple[str, ...] = tuple(DEVICES), start: datetime = START
) -> None:
    ms = int(start.timestamp() * 1000) + i * 60_000
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


def _pushing_hub(stack: Devstack, storage: str, receiver: Receiver, **env: str) -> ApiHub:
    """A hub with the shipped profiles pushing to ``receiver`` every 0.2 s."""
    return start_hub(
        stack,
        Path(tempfile.mkdtemp(prefix="hub-ngsi-push-")),
        storage=storage,
        profiles_dir=SHIPPED_PROFILES,
        HUB_NGSI_LD_BROKER_URL=receiver.url,
        HUB_NGSI_LD_PUSH_INTERVAL_S="0.2",
        HUB_NGSI_LD_PUSH_BACKOFF_MAX_S="2",
        **env,
    )


def test_push_sends_every_change_once_through_an_outage_and_a_restart(
    stack: Devstack, default_storage: str
) -> None:
    receiver = Receiver().start()
    hub = _pushing_hub(
        stack,
        default_storage,
        receiver,
        HUB_NGSI_LD_BROKER_TENANT="kommune",
        HUB_NGSI_LD_BROKER_TOKEN="test-token",
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


def _push_processes(hub_pid: int) -> list[int]:
    """The hub's push process (hub.ngsi.push_process), from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if parent == hub_pid and b"spawn_main" in command:
            found.append(int(stat.parent.name))
    return found


def _instances(receiver: Receiver) -> Counter[tuple[str, str, str, Any]]:
    """(entity id, attribute, observedAt, value) of every instance at the temporal API."""
    found: Counter[tuple[str, str, str, Any]] = Counter()
    for request in receiver.received("/temporal/entities"):
        for name, instances in request.body.items():
            if name != "@context" and isinstance(instances, list):
                for instance in instances:
                    found[request.body["id"], name, instance["observedAt"], instance["value"]] += 1
    return found


def _expected(start: datetime, rounds: range) -> Counter[tuple[str, str, str, Any]]:
    expected: Counter[tuple[str, str, str, Any]] = Counter()
    for i in rounds:
        at = (start + timedelta(minutes=i)).isoformat().replace("+00:00", "Z")
        expected[
            "urn:ngsi-ld:AirQualityObserved:aq-1", "pm10", at, aq_values("aq-1", i)["pm10"]
        ] += 1
        expected[
            "urn:ngsi-ld:AirQualityObserved:aq-2", "pm10", at, aq_values("aq-2", i)["pm10"]
        ] += 1
        # wm-1's waterConsumption is configured too, but a household meter's history is
        # personal data: it never leaves the hub (docs/privacy.md).
    return expected


def test_temporal_push_sends_every_instance_once(stack: Devstack, default_storage: str) -> None:
    receiver = Receiver().start()
    hub = _pushing_hub(
        stack, default_storage, receiver, HUB_NGSI_LD_TEMPORAL_ATTRS="pm10,waterConsumption"
    )
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
    try:
        _register(hub)
        for i in range(3):
            _publish_round(hub, i, start=start)
        wait_for(
            lambda: _instances(receiver) == _expected(start, range(3)),
            30,
            "every pm10 instance at the temporal API",
        )
        request = receiver.received("/temporal/entities")[0]
        assert request.path == "/ngsi-ld/v1/temporal/entities"
        assert request.headers["content-type"] == "application/ld+json"
        assert "@context" in request.body
        pm10 = next(
            r.body["pm10"] for r in receiver.received("/temporal/entities") if "pm10" in r.body
        )
        assert pm10[0]["type"] == "Property" and pm10[0]["unitCode"] == "GQ"
        # Only the configured attributes travel (no no2, no Device history), and none of
        # a personal device's.
        assert {name for _, name, _, _ in _instances(receiver)} == {"pm10"}
        assert not [r for r in receiver.received("/temporal/entities") if "wm-1" in r.body["id"]]

        # The broker away: what was read meanwhile arrives afterwards, once.
        receiver.stop()
        for i in (3, 4):
            _publish_round(hub, i, start=start)
        hub.wait_stored("wm-1", 5 * 4)
        wait_for(lambda: _detail(hub)["failures"] > 0, 20, "the push to notice the outage")
        receiver.start()
        wait_for(
            lambda: _instances(receiver) == _expected(start, range(5)),
            30,
            "the instances of the outage at the temporal API",
        )

        # A restart resends nothing: only the next reading's instances follow.
        hub.process.stop()
        hub.process.start()
        hub.process.wait_ready()
        _publish_round(hub, 5, start=start)
        wait_for(
            lambda: _instances(receiver) == _expected(start, range(6)),
            30,
            "the instances after the restart",
        )
        metrics = httpx.get(f"{hub.url}/metrics", timeout=5).text
        assert "hub_ngsi_push_temporal_instances_total 2.0" in metrics

        # The push's own process killed: the hub starts it again, nothing is lost.
        assert hub.process.proc is not None
        (child,) = _push_processes(hub.process.proc.pid)
        os.kill(child, signal.SIGKILL)
        _publish_round(hub, 6, start=start)
        wait_for(
            lambda: _instances(receiver) == _expected(start, range(7)),
            30,
            "the instances after the push process was killed",
        )
        assert _push_processes(hub.process.proc.pid) != [child]
    finally:
        hub.stop()
        receiver.stop()
