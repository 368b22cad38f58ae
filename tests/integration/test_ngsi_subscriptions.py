"""NGSI-LD subscriptions on a real hub: a matching reading notifies a real HTTP
receiver within a second, a non-matching one does not, subscriptions survive a
restart, and bad requests get the spec's problem types."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from hub.devstack import Devstack
from tests.integration.api_helpers import SHIPPED_PROFILES, ApiHub, start_hub
from tests.integration.helpers import wait_for
from tests.integration.ngsi_fleet import DEVICES, START, aq_values
from tests.integration.ngsi_receiver import Receiver

ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
HIGH = "urn:ngsi-ld:Subscription:pm10-high"
ANY = "urn:ngsi-ld:Subscription:pm10-any"


@pytest.fixture
def town(stack: Devstack, default_storage: str) -> Iterator[tuple[ApiHub, Receiver]]:
    receiver = Receiver().start()
    hub = start_hub(
        stack,
        Path(tempfile.mkdtemp(prefix="hub-ngsi-subs-")),
        storage=default_storage,
        profiles_dir=SHIPPED_PROFILES,
    )
    with hub.client("operator") as client:
        for device_id, (profile, lon, lat, _) in DEVICES.items():
            r = client.post(
                "/api/v1/devices",
                json={"device_id": device_id, "profile": profile, "lat": lat, "lon": lon},
            )
            assert r.status_code == 201, r.text
    try:
        yield hub, receiver
    finally:
        hub.stop()
        receiver.stop()


def _subscription(sid: str, uri: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": sid,
        "type": "Subscription",
        "entities": [{"type": "AirQualityObserved"}],
        "watchedAttributes": ["pm10"],
        "notification": {
            "format": "keyValues",
            "attributes": ["pm10", "dateObserved"],
            "endpoint": {"uri": uri, "accept": "application/json"},
        },
        **extra,
    }


def _post(hub: ApiHub, body: Any, role: str = "operator", **headers: str) -> httpx.Response:
    with hub.client(role) as client:
        return client.post(
            "/ngsi-ld/v1/subscriptions",
            content=orjson.dumps(body),
            headers={"Content-Type": "application/json", **headers},
        )


_seq = iter(range(10**6))


def _reading(hub: ApiHub, pm10: float) -> float:
    """Publish one aq-1 reading; returns when it was published (monotonic)."""
    i = next(_seq)
    values = {**aq_values("aq-1", i), "pm10": pm10}
    ms = int(START.timestamp() * 1000) + i * 60_000
    at = time.monotonic()
    hub.publish([(hub.topic("aq-1", "air_quality"), orjson.dumps({"ts": ms, "metrics": values}))])
    return at


def _notified(receiver: Receiver, sid: str) -> list[dict[str, Any]]:
    return [r.body for r in receiver.received("/notify") if r.body["subscriptionId"] == sid]


def test_matching_reading_notifies_within_a_second(town: tuple[ApiHub, Receiver]) -> None:
    hub, receiver = town
    uri = f"{receiver.url}/notify"
    r = _post(hub, _subscription(HIGH, uri, q="pm10>100"))
    assert r.status_code == 201, r.text
    assert r.headers["location"] == f"/ngsi-ld/v1/subscriptions/{HIGH}"
    assert _post(hub, _subscription(ANY, uri)).status_code == 201

    # The matcher takes new subscriptions within a second: wait for the first
    # notification of the catch-all one.
    def any_notified() -> bool:
        _reading(hub, 5.0)
        return bool(_notified(receiver, ANY))

    wait_for(any_notified, 20, "the subscriptions to be live", every=0.5)

    sent = _reading(hub, 150.0)
    wait_for(lambda: bool(_notified(receiver, HIGH)), 5, "the pm10>100 notification", every=0.02)
    arrival = next(r.at for r in receiver.received("/notify") if r.body["subscriptionId"] == HIGH)
    assert arrival - sent < 1.0, f"notified {arrival - sent:.3f} s after the reading"
    (note,) = _notified(receiver, HIGH)
    assert note["type"] == "Notification" and note["id"].startswith("urn:ngsi-ld:Notification:")
    assert note["data"] == [
        {
            "id": "urn:ngsi-ld:AirQualityObserved:aq-1",
            "type": "AirQualityObserved",
            "pm10": 150.0,
            "dateObserved": note["data"][0]["dateObserved"],
        }
    ]
    request = next(r for r in receiver.received("/notify") if r.body["subscriptionId"] == HIGH)
    assert request.headers["content-type"] == "application/json"
    assert 'rel="http://www.w3.org/ns/json-ld#context"' in request.headers["link"]

    # A reading below the threshold: the catch-all subscription is told (the positive
    # signal that it was matched), the pm10>100 one is not.
    count_any = len(_notified(receiver, ANY))
    _reading(hub, 20.0)
    wait_for(lambda: len(_notified(receiver, ANY)) > count_any, 5, "the catch-all notification")
    assert len(_notified(receiver, HIGH)) == 1
    assert _notified(receiver, ANY)[-1]["data"][0]["pm10"] == 20.0

    with hub.client("operator") as client:
        listed = client.get("/ngsi-ld/v1/subscriptions").json()
        assert [s["id"] for s in listed] == [ANY, HIGH]
        high = client.get(f"/ngsi-ld/v1/subscriptions/{HIGH}").json()
    assert high["status"] == "active" and high["q"] == "pm10>100"
    assert high["notification"]["timesSent"] == 1 and high["notification"]["status"] == "ok"


def test_subscriptions_survive_a_restart(town: tuple[ApiHub, Receiver]) -> None:
    hub, receiver = town
    assert (
        _post(hub, _subscription(HIGH, f"{receiver.url}/notify", q="pm10>100")).status_code == 201
    )
    hub.process.stop()
    hub.process.start()
    hub.process.wait_ready()
    with hub.client("operator") as client:
        assert client.get(f"/ngsi-ld/v1/subscriptions/{HIGH}").status_code == 200

    def notified() -> bool:
        _reading(hub, 300.0)
        return bool(_notified(receiver, HIGH))

    wait_for(notified, 20, "a notification after the restart", every=0.5)
    with hub.client("operator") as client:
        assert client.delete(f"/ngsi-ld/v1/subscriptions/{HIGH}").status_code == 204
        r = client.get(f"/ngsi-ld/v1/subscriptions/{HIGH}")
    assert r.status_code == 404 and r.json()["type"] == ERRORS + "ResourceNotFound"


def test_throttling_holds_back_notifications(town: tuple[ApiHub, Receiver]) -> None:
    hub, receiver = town
    body = _subscription(HIGH, f"{receiver.url}/notify", throttling=3600)
    body.pop("id")
    r = _post(hub, body)
    assert r.status_code == 201
    sid = r.headers["location"].rsplit("/", 1)[1]
    assert _post(hub, _subscription(ANY, f"{receiver.url}/notify")).status_code == 201

    # The catch-all subscription was made last: once it notifies, both are live.
    def first() -> bool:
        _reading(hub, 7.0)
        return bool(_notified(receiver, sid)) and bool(_notified(receiver, ANY))

    wait_for(first, 20, "the first notifications", every=0.5)
    count_any = len(_notified(receiver, ANY))
    _reading(hub, 8.0)
    wait_for(lambda: len(_notified(receiver, ANY)) > count_any, 5, "the catch-all notification")
    assert len(_notified(receiver, sid)) == 1


@pytest.mark.parametrize(
    ("body", "status", "kind"),
    [
        (
            {"type": "Subscription", "notification": {"endpoint": {"uri": "http://x/"}}},
            400,
            "BadRequestData",
        ),
        ({"type": "Thing", "entities": [{"type": "Device"}]}, 400, "BadRequestData"),
        (
            {"type": "Subscription", "entities": [{"type": "Device"}], "notification": {}},
            400,
            "BadRequestData",
        ),
        (
            {
                "type": "Subscription",
                "entities": [{"type": "Device"}],
                "q": "pm10>>1",
                "notification": {"endpoint": {"uri": "http://127.0.0.1:9/"}},
            },
            400,
            "BadRequestData",
        ),
        (
            {
                "type": "Subscription",
                "entities": [{"type": "Device"}],
                "notification": {"endpoint": {"uri": "mqtt://127.0.0.1:1883/t"}},
            },
            422,
            "OperationNotSupported",
        ),
        (
            {
                "type": "Subscription",
                "entities": [{"type": "Device"}],
                "timeInterval": 60,
                "notification": {"endpoint": {"uri": "http://127.0.0.1:9/"}},
            },
            422,
            "OperationNotSupported",
        ),
        ([1, 2], 400, "InvalidRequest"),
    ],
)
def test_bad_subscriptions_get_problem_types(
    town: tuple[ApiHub, Receiver], body: Any, status: int, kind: str
) -> None:
    hub, _ = town
    r = _post(hub, body)
    assert r.status_code == status, r.text
    assert r.json()["type"] == ERRORS + kind


def test_subscription_access_media_types_and_conflicts(town: tuple[ApiHub, Receiver]) -> None:
    hub, receiver = town
    body = _subscription(HIGH, f"{receiver.url}/notify")
    assert _post(hub, body, role="viewer").status_code == 403
    with hub.client("operator") as client:
        r = client.post(
            "/ngsi-ld/v1/subscriptions", content=b"{}", headers={"Content-Type": "text/plain"}
        )
    assert r.status_code == 415 and r.json()["type"] == ERRORS + "UnsupportedMediaType"
    ld = {**body, "@context": "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"}
    assert _post(hub, ld, **{"Content-Type": "application/ld+json"}).status_code == 201
    r = _post(hub, body)
    assert r.status_code == 409 and r.json()["type"] == ERRORS + "AlreadyExists"
    r = _post(hub, {**body, "id": "urn:x:2", "@context": "x"})
    assert r.status_code == 400
