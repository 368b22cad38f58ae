"""The hub's NGSI-LD API driven by a real NGSI-LD client library: ngsijs (FIWARE's
JavaScript client, from npm, tests/ngsi_client/package.json) run by Node. What the
library resolves with must equal what the hub answers, its errors must be the
library's own classes for the spec's problem types, and a subscription made with
it must notify a real HTTP receiver."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from hub.devstack import Devstack
from tests.integration.api_helpers import ApiHub
from tests.integration.helpers import wait_for
from tests.integration.ngsi_fleet import STEPS, aq_values, fed_town, time_of
from tests.integration.ngsi_receiver import Receiver

CLIENT = Path(__file__).resolve().parents[1] / "ngsi_client"
AQ1 = "urn:ngsi-ld:AirQualityObserved:aq-1"
AQ2 = "urn:ngsi-ld:AirQualityObserved:aq-2"
LAST = STEPS - 1


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the ngsijs client test needs Node.js")
    if not (CLIENT / "node_modules" / "ngsijs").is_dir():
        pytest.skip(
            "ngsijs is not installed: run `npm ci --prefix tests/ngsi_client` (make test does)"
        )
    return node


@pytest.fixture(scope="module", params=["plain", "timescale"])
def hub(request: pytest.FixtureRequest, stack: Devstack) -> Iterator[ApiHub]:
    with fed_town(stack, request.param, "hub-ngsi-client-") as api:
        yield api


def _drive(hub: ApiHub, role: str, *calls: tuple[str, list[Any]]) -> list[dict[str, Any]]:
    """Run ``calls`` (ngsijs ``connection.ld`` methods and their arguments) in order."""
    done = subprocess.run(
        [_node(), str(CLIENT / "drive.js"), hub.url, hub.keys[role]],
        input=orjson.dumps([{"op": op, "args": args} for op, args in calls]),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    answers: list[dict[str, Any]] = orjson.loads(done.stdout)
    assert len(answers) == len(calls)
    return answers


def _own(hub: ApiHub, path: str, **params: Any) -> Any:
    """What the hub answers itself, to compare the library's results with."""
    with hub.client("personal") as client:  # the town has water meters (personal data)
        return client.get(path, params=params).raise_for_status().json()


def _bare(body: Any) -> Any:
    """``body`` without the ``@context`` members (ngsijs asks for JSON-LD first)."""
    if isinstance(body, list):
        return [_bare(item) for item in body]
    return {k: v for k, v in body.items() if k != "@context"}


def test_ngsijs_queries_entities_in_every_form(hub: ApiHub) -> None:
    near = {
        "georel": "near;maxDistance==200",
        "geometry": "Point",
        "coordinates": "[10.7522,59.9139]",
    }
    (
        by_type,
        key_values,
        query,
        geo,
        paged,
        one,
        one_kv,
    ) = _drive(
        hub,
        "personal",
        ("queryEntities", [{"type": "AirQualityObserved", "count": True}]),
        ("queryEntities", [{"type": "AirQualityObserved", "keyValues": True, "attrs": ["pm10"]}]),
        ("queryEntities", [{"type": "AirQualityObserved", "q": "pm10>30"}]),
        ("queryEntities", [{"type": "AirQualityObserved,Streetlight", **near}]),
        ("queryEntities", [{"idPattern": ".*", "limit": 2, "offset": 1, "count": True}]),
        ("getEntity", [AQ1]),
        ("getEntity", [{"id": "urn:ngsi-ld:Device:aq-1", "keyValues": True}]),
    )
    assert by_type["ok"]["count"] == 2
    # ngsijs accepts "application/ld+json, application/json": JSON-LD, @context inside.
    assert by_type["ok"]["format"].startswith("application/ld+json")
    assert all("@context" in e for e in by_type["ok"]["results"])
    assert _bare(by_type["ok"]["results"]) == _own(
        hub, "/ngsi-ld/v1/entities", type="AirQualityObserved"
    )
    assert [e["id"] for e in by_type["ok"]["results"]] == [AQ1, AQ2]

    assert _bare(key_values["ok"]["results"]) == [
        {"id": AQ1, "type": "AirQualityObserved", "pm10": aq_values("aq-1", LAST)["pm10"]},
        {"id": AQ2, "type": "AirQualityObserved", "pm10": aq_values("aq-2", LAST)["pm10"]},
    ]
    assert [e["id"] for e in query["ok"]["results"]] == [AQ2]
    assert sorted(e["id"] for e in geo["ok"]["results"]) == [
        AQ1,
        "urn:ngsi-ld:Streetlight:sl-1",
    ]
    assert paged["ok"]["count"] == 8
    everything = _own(hub, "/ngsi-ld/v1/entities", limit=100)
    assert _bare(paged["ok"]["results"]) == everything[1:3]

    assert _bare(one["ok"]["entity"]) == _own(hub, f"/ngsi-ld/v1/entities/{AQ1}")
    assert one["ok"]["entity"]["pm10"]["observedAt"] == time_of(LAST).isoformat().replace(
        "+00:00", "Z"
    )
    assert one_kv["ok"]["entity"]["batteryLevel"] == pytest.approx(
        aq_values("aq-1", LAST)["battery"] / 100
    )


def test_ngsijs_types_and_temporal_queries(hub: ApiHub) -> None:
    start = time_of(LAST - 3).isoformat().replace("+00:00", "Z")
    end = time_of(LAST + 1).isoformat().replace("+00:00", "Z")
    types, one_type, temporal, values = _drive(
        hub,
        "personal",
        ("listTypes", [{}]),
        ("getType", ["AirQualityObserved"]),
        (
            "queryTemporalEntities",
            [
                {
                    "type": "AirQualityObserved",
                    "attrs": "pm10",
                    "timerel": "between",
                    "timeAt": start,
                    "endTimeAt": end,
                }
            ],
        ),
        (
            "queryTemporalEntities",
            [
                {
                    "id": AQ1,
                    "type": "AirQualityObserved",
                    "attrs": ["pm10", "no2"],
                    "timerel": "after",
                    "timeAt": start,
                    "temporalValues": True,
                }
            ],
        ),
    )
    assert types["ok"]["results"]["typeList"] == [
        "AirQualityObserved",
        "Device",
        "Streetlight",
        "WaterConsumptionObserved",
    ]
    assert one_type["ok"]["type"]["entityCount"] == 2
    assert "pm10" in {a["attributeName"] for a in one_type["ok"]["type"]["attributeDetails"]}

    own = _own(
        hub,
        "/ngsi-ld/v1/temporal/entities",
        type="AirQualityObserved",
        attrs="pm10",
        timerel="between",
        timeAt=start,
        endTimeAt=end,
    )
    assert _bare(temporal["ok"]["results"]) == own
    aq1 = temporal["ok"]["results"][0]
    assert aq1["id"] == AQ1
    assert [i["value"] for i in aq1["pm10"]] == [
        aq_values("aq-1", i)["pm10"] for i in range(LAST - 3, LAST + 1)
    ]
    (series,) = values["ok"]["results"]
    assert [v for v, _ in series["no2"]["values"]] == [
        aq_values("aq-1", i)["no2"] for i in range(LAST - 3, LAST + 1)
    ]


def test_ngsijs_gets_the_specs_errors_as_its_own(hub: ApiHub) -> None:
    missing, bad_q, bad_geo, unknown_type = _drive(
        hub,
        "personal",
        ("getEntity", ["urn:ngsi-ld:AirQualityObserved:nowhere"]),
        ("queryEntities", [{"type": "AirQualityObserved", "q": "pm10>>3"}]),
        ("queryEntities", [{"type": "AirQualityObserved", "georel": "near", "geometry": "Point"}]),
        ("getType", ["Nonexistent"]),
    )
    assert missing["error"] == "NotFoundError"
    assert bad_q["error"] == "BadRequestError"
    assert bad_geo["error"] == "BadRequestError"
    assert unknown_type["error"] == "NotFoundError"


def test_ngsijs_subscription_notifies_a_receiver(hub: ApiHub) -> None:
    receiver = Receiver().start()
    try:
        subscription = {
            "type": "Subscription",
            "entities": [{"type": "AirQualityObserved", "id": AQ1}],
            "watchedAttributes": ["pm10"],
            "q": "pm10>100",
            "notification": {
                "format": "keyValues",
                "attributes": ["pm10"],
                "endpoint": {"uri": f"{receiver.url}/notify", "accept": "application/json"},
            },
        }
        (created,) = _drive(hub, "operator", ("createSubscription", [subscription]))
        sid = created["ok"]["subscription"]["id"]
        assert created["ok"]["location"].endswith(sid)
        fetched, listed = _drive(
            hub, "operator", ("getSubscription", [sid]), ("listSubscriptions", [{}])
        )
        assert fetched["ok"]["subscription"]["q"] == "pm10>100"
        assert sid in [s["id"] for s in listed["ok"]["results"]]

        ms = int(time_of(STEPS + 1).timestamp() * 1000)

        def publish(pm10: float) -> None:
            nonlocal ms
            payload = {"ts": ms, "metrics": {**aq_values("aq-1", STEPS), "pm10": pm10}}
            hub.publish([(hub.topic("aq-1", "air_quality"), orjson.dumps(payload))])
            ms += 60_000

        def notified() -> bool:
            publish(150.0)
            return bool(receiver.received("/notify"))

        # A new subscription is live within a second: matching readings until it is.
        wait_for(notified, 30, "the subscription to be live", every=0.5)
        count = len(receiver.received("/notify"))
        publish(20.0)  # does not match q
        publish(150.0)
        wait_for(lambda: len(receiver.received("/notify")) > count, 15, "the next notification")
        for note in receiver.received("/notify"):
            assert note.body["subscriptionId"] == sid
            assert note.body["data"] == [{"id": AQ1, "type": "AirQualityObserved", "pm10": 150.0}]

        (deleted,) = _drive(hub, "operator", ("deleteSubscription", [sid]))
        assert "error" not in deleted, deleted
        (gone,) = _drive(hub, "operator", ("getSubscription", [sid]))
        assert gone["error"] == "NotFoundError"
    finally:
        receiver.stop()
