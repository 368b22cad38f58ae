"""The read policy (docs/privacy.md) on every read route of the OpenAPI document, so
a new route is covered without editing this file: for each route and each data
class, with no key (open-data mode), a viewer key, an operator key, and an
operator key with the personal permission. Plus the group threshold of the
aggregates (4 meters: suppressed, 5: served), the access log, and the paths
without a query: the live stream, the SensorThings MQTT feed, NGSI-LD
notifications and the push to a context broker never carry a personal device's
id, coordinate or raw reading to a reader without the permission.

One hub per storage level: shipped profiles, a public air monitor, a street light
made internal per device, and nine household water meters (personal): five in
Sentrum, four in Lade."""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import re
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import paho.mqtt.client as mqtt
import pytest

from hub.config import mqtt_endpoint
from hub.devstack import Devstack
from hub.store.db import connect
from tests.integration.api_helpers import SHIPPED_PROFILES, ApiHub, start_hub
from tests.integration.helpers import wait_for
from tests.integration.ngsi_receiver import Receiver

READERS = (None, "viewer", "operator", "personal")
CLASSES = ("public", "internal", "personal")
SENTRUM = [f"wm-0{k}" for k in range(1, 6)]  # five meters: served
LADE = [f"wm-1{k}" for k in range(1, 5)]  # four meters: suppressed
METERS = SENTRUM + LADE
DEVICE = {"public": "aq-pub", "internal": "sl-int", "personal": "wm-01"}
ENTITY = {
    "public": "urn:ngsi-ld:AirQualityObserved:aq-pub",
    "internal": "urn:ngsi-ld:Streetlight:sl-int",
    "personal": "urn:ngsi-ld:WaterConsumptionObserved:wm-01",
}
ENTITY_TYPE = {
    "public": "AirQualityObserved",
    "internal": "Streetlight",
    "personal": "WaterConsumptionObserved",
}
STEPS = 12  # readings per device, every 15 minutes
# Path parameters that name a device or something of one: their routes answer per class.
DEVICE_PARAMS = {"device_id", "alert_id", "dead_letter_id", "rule_id", "entity_id", "key"}
OPERATOR_ONLY = ("/api/v1/dead-letters", "/ngsi-ld/v1/subscriptions")
ADMIN_ONLY = ("/api/v1/api-keys", "/api/v1/privacy")
QUERIES = {"/api/v1/aggregates/districts": {"metric": "volume"}}
_seq = itertools.count(1000)


def _lat(k: int) -> float:
    return round(63.431234 + k * 0.000137, 6)


def _lon(k: int) -> float:
    return round(10.391234 + k * 0.000173, 6)


def _flow(k: int, i: int) -> float:
    return round(700 + k * k * 0.0137 + i * 0.0011, 4)


def _rate(k: int) -> float:
    return 0.001 * (k + 1)


def _volume(k: int, i: int) -> float:
    return round(100 + k + i * _rate(k), 6)


@dataclass
class Town:
    hub: ApiHub
    storage: str
    receiver: Receiver
    start: datetime
    ids: dict[str, Any] = field(default_factory=dict)  # per class: alert, letter, rule, pk, series

    @property
    def secrets(self) -> list[str]:
        """Texts that only a reader of personal data may ever get: the meters' exact
        coordinates and raw readings."""
        out = []
        for k, _ in enumerate(METERS):
            out += [repr(_lat(k)), repr(_lon(k))]
            out += [repr(_flow(k, i)) for i in range(STEPS)]
            out += [repr(_volume(k, i)) for i in range(1, STEPS)]
        return out


def _register(hub: ApiHub) -> None:
    devices: list[dict[str, Any]] = [
        {
            "device_id": "aq-pub",
            "profile": "air_quality",
            "district": "Sentrum",
            "lat": 63.4301,
            "lon": 10.3951,
        },
        {
            "device_id": "sl-int",
            "profile": "street_light",
            "district": "Sentrum",
            "lat": 63.4401,
            "lon": 10.4051,
            "data_class_override": "internal",
        },
    ]
    for k, meter in enumerate(METERS):
        district = "Sentrum" if meter in SENTRUM else "Lade"
        devices.append(
            {
                "device_id": meter,
                "profile": "water_meter",
                "district": district,
                "name": f"Storgata {k + 1}",
                "lat": _lat(k),
                "lon": _lon(k),
            }
        )
    with hub.client("operator") as client:
        for body in devices:
            r = client.post("/api/v1/devices", json=body)
            assert r.status_code == 201, r.text
        assert r.json()["data_class"] == "personal"


def _feed(hub: ApiHub, start: datetime) -> None:
    messages = []
    for i in range(STEPS):
        ms = int((start + timedelta(minutes=15 * i)).timestamp() * 1000)
        messages.append(
            (hub.topic("aq-pub", "air_quality"), orjson.dumps({"ts": ms, "no2": 20 + i}))
        )
        messages.append(
            (hub.topic("sl-int", "street_light"), orjson.dumps({"ts": ms, "power": 40 + i}))
        )
        for k, meter in enumerate(METERS):
            body = {"ts": ms, "volume": _volume(k, i), "flow": _flow(k, i)}
            messages.append((hub.topic(meter, "water_meter"), orjson.dumps(body)))
    hub.publish(messages)
    for meter in METERS:
        hub.wait_stored(meter, STEPS * 2)
    hub.wait_stored("aq-pub", STEPS)
    hub.wait_stored("sl-int", STEPS)
    # A message each device's profile cannot use: a dead letter per class.
    hub.publish(
        [
            (hub.topic(DEVICE[c], profile), b"{not json")
            for c, profile in (
                ("public", "air_quality"),
                ("internal", "street_light"),
                ("personal", "water_meter"),
            )
        ]
    )


def _fixtures(town: Town) -> None:
    """An alert, a dead letter, a rule, the STA ids of each class's device."""
    profile = {"public": "air_quality", "internal": "street_light", "personal": "water_meter"}
    metric = {"public": "no2", "internal": "power", "personal": "flow"}
    with connect(town.hub.settings.database_url, "test") as conn:

        def letters() -> int:
            row = conn.execute("SELECT count(*) FROM dead_letters").fetchone()
            return int(row[0]) if row else 0

        wait_for(lambda: letters() >= 3, 30, "three dead letters")
        for data_class, device in DEVICE.items():
            pk = conn.execute("SELECT id FROM devices WHERE device_id = %s", (device,)).fetchone()
            assert pk is not None
            series = conn.execute(
                "SELECT id FROM series WHERE device = %s AND metric = %s",
                (pk[0], metric[data_class]),
            ).fetchone()
            letter = conn.execute(
                "SELECT id FROM dead_letters WHERE device_id = %s ORDER BY id LIMIT 1", (device,)
            ).fetchone()
            rule = conn.execute(
                "INSERT INTO rules (name, kind, profile, metric, device_id, parameters, severity, "
                "source) VALUES (%s, 'threshold', %s, %s, %s, '{\"above\": 100000}', 'info', "
                "'api') RETURNING id",
                (f"only {device}", profile[data_class], metric[data_class], device),
            ).fetchone()
            value = _flow(0, 0) if data_class == "personal" else 1.5
            alert = conn.execute(
                "INSERT INTO alerts (rule_id, device, state, severity, message, value, opened_at) "
                "VALUES (%s, %s, 'acknowledged', 'warning', %s, %s, now()) RETURNING id",
                (rule[0] if rule else None, pk[0], f"reading {value!r} too high", value),
            ).fetchone()
            assert series and letter and rule and alert
            town.ids[data_class] = {
                "pk": pk[0],
                "series": series[0],
                "letter": letter[0],
                "rule": rule[0],
                "alert": alert[0],
            }
        conn.commit()


@pytest.fixture(scope="module", params=["plain", "timescale"])
def town(request: pytest.FixtureRequest, stack: Devstack) -> Iterator[Town]:
    storage: str = request.param
    if storage == "timescale" and not stack.postgres.timescaledb:
        pytest.skip("TimescaleDB extension not installed: timescale storage path not exercised")
    receiver = Receiver().start()
    hub = start_hub(
        stack,
        Path(tempfile.mkdtemp(prefix="hub-privacy-")),
        storage=storage,
        profiles_dir=SHIPPED_PROFILES,
        HUB_OPEN_DATA="true",
        HUB_STA_MQTT="true",
        HUB_NGSI_LD_BROKER_URL=receiver.url,
        HUB_NGSI_LD_PUSH_INTERVAL_S="0.2",
    )
    now = datetime.now(UTC)
    # Within the default range of every read route (a day of raw readings).
    start = (now - timedelta(hours=5)).replace(minute=0, second=0, microsecond=0)
    town = Town(hub, storage, receiver, start)
    try:
        _register(hub)
        _feed(hub, start)
        _fixtures(town)
        yield town
    finally:
        hub.stop()
        receiver.stop()


# --- the route matrix, from the OpenAPI document ---------------------------------


def _read_routes(town: Town) -> list[str]:
    document = httpx.get(f"{town.hub.url}/openapi.json").json()
    return sorted(
        path
        for path, operations in document["paths"].items()
        if "get" in operations and path.startswith(("/api/v1/", "/sta/", "/ngsi-ld/"))
    )


def _sta_urls(town: Town, template: str, data_class: str | None) -> list[str]:
    sets = ["Things", "Locations", "HistoricalLocations", "Datastreams", "FeaturesOfInterest"]
    if data_class is None:
        return [f"/sta/v1.1/{s}" for s in [*sets, "Sensors", "ObservedProperties"]] + [
            "/sta/v1.1/Observations?$top=1000"
        ]
    pk, series = town.ids[data_class]["pk"], town.ids[data_class]["series"]
    one = [
        f"Things({pk})",
        f"Locations({pk})",
        f"FeaturesOfInterest({pk})",
        f"Datastreams({series})",
    ]
    if template.endswith("{rest}"):
        return [
            f"/sta/v1.1/Things({pk})/Datastreams",
            f"/sta/v1.1/Things({pk})/Locations",
            f"/sta/v1.1/Datastreams({series})/Observations?$top=1000",
            f"/sta/v1.1/FeaturesOfInterest({pk})/Observations?$top=1000",
        ]
    return [f"/sta/v1.1/{x}" for x in one]


def _urls(town: Town, template: str) -> list[tuple[str | None, str]]:
    """(class or None, URL) for one route template; a parameter this table does not
    know fails the test, so that a new route gets a value here."""
    params = set(re.findall(r"\{(\w+)", template))
    if template.startswith("/sta/") and params:
        classes: list[str | None] = [None] if params == {"entity_set"} else list(CLASSES)
        return [(c, url) for c in classes for url in _sta_urls(town, template, c)]
    if not params & DEVICE_PARAMS:
        fixed = {
            "name": "water_meter",
            "entity_type": ENTITY_TYPE["personal"],
            "attribute": "location",
            "key_id": "1",
            "subscription_id": "urn:ngsi-ld:Subscription:none",
        }
        unknown = params - set(fixed)
        assert not unknown, f"{template}: no value for {unknown} in this test"
        url = template
        for name in params:
            url = url.replace("{" + name + "}", fixed[name])
        query = QUERIES.get(template)
        return [
            (None, url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""))
        ]
    out: list[tuple[str | None, str]] = []
    for data_class in CLASSES:
        ids = town.ids[data_class]
        values = {
            "device_id": DEVICE[data_class],
            "alert_id": str(ids["alert"]),
            "dead_letter_id": str(ids["letter"]),
            "rule_id": str(ids["rule"]),
            "entity_id": ENTITY[data_class],
        }
        unknown = params - set(values)
        assert not unknown, f"{template}: no value for {unknown} in this test"
        url = template
        for name in params:
            url = url.replace("{" + name + "}", values[name])
        out.append((data_class, url))
    return out


def _get(town: Town, reader: str | None, url: str) -> tuple[int, str]:
    with town.hub.client(reader) as client:
        if url.startswith("/api/v1/stream"):
            with client.stream("GET", url) as r:
                return r.status_code, ""
        r = client.get(url)
        return r.status_code, r.text


def _forbidden(town: Town, reader: str | None) -> list[str]:
    """What must never be in a successful answer to this reader."""
    if reader == "personal":
        return []
    tokens = [*town.secrets, "Storgata"]  # a meter's name is often its address
    if reader is None:
        tokens += [DEVICE["internal"], *METERS]
    return tokens


def test_every_read_route_obeys_the_policy_for_every_class_and_reader(town: Town) -> None:
    routes = _read_routes(town)
    assert len(routes) >= 25
    outcome: dict[tuple[str, str | None, str, str | None], int] = {}
    leaks: list[str] = []
    personal_bodies: dict[str, str] = {}
    for template in routes:
        needed = (
            "admin"
            if template.startswith(ADMIN_ONLY)
            else "operator"
            if template.startswith(OPERATOR_ONLY)
            else None
        )
        for data_class, url in _urls(town, template):
            for reader in READERS:
                status, body = _get(town, reader, url)
                outcome[template, data_class, url, reader] = status
                where = f"{url} ({data_class}) as {reader or 'no key'}: {status}"
                assert status < 500, f"{where} {body[:300]}"
                if needed == "admin" or (needed == "operator" and reader in (None, "viewer")):
                    assert status in (401, 403), where
                    continue
                if 200 <= status < 300:
                    found = [t for t in _forbidden(town, reader) if t in body]
                    if found:
                        leaks.append(f"{where}: {found[:5]}")
                    if reader == "personal" and data_class == "personal":
                        personal_bodies[url] = body
                elif reader != "personal" or data_class != "personal":
                    # An error may echo the id the caller sent, never a secret.
                    assert not [t for t in town.secrets if t in body], where
    assert leaks == []

    for (template, data_class, url, reader), status in outcome.items():
        where = f"{url} ({data_class}) as {reader or 'no key'}: {status}"
        if template.startswith(ADMIN_ONLY) or data_class is None:
            continue
        operator_only = template.startswith(OPERATOR_ONLY)
        if reader is None:
            if data_class == "public":
                assert (status == 401) if operator_only else (200 <= status < 300), where
            else:  # internal and personal devices do not exist for the public
                assert status in (401, 404), where
        elif reader == "personal" or (
            data_class in ("public", "internal") and not (operator_only and reader == "viewer")
        ):
            assert 200 <= status < 300, where
    # Positive controls: with the permission, the meter's own data is there.
    readings = personal_bodies["/api/v1/devices/wm-01/readings"]
    assert repr(_flow(0, STEPS - 1)) in readings
    assert repr(_lat(0)) in personal_bodies["/api/v1/devices/wm-01"]
    assert "wm-01" in personal_bodies[f"/api/v1/alerts/{town.ids['personal']['alert']}"]
    # Without it: the meter's readings are refused, its place is coarse, its name hidden.
    assert outcome["/api/v1/devices/{device_id}/readings", "personal",
                   "/api/v1/devices/wm-01/readings", "viewer"] == 403  # fmt: skip
    with town.hub.client("viewer") as viewer:
        meter = viewer.get("/api/v1/devices/wm-01").json()
        everyone = viewer.get("/api/v1/devices", params={"limit": 100}).json()["items"]
    assert meter["location"] == {"lat": round(_lat(0), 2), "lon": round(_lon(0), 2)}
    assert meter["name"] is None and all(m["latest"] is None for m in meter["metrics"])
    assert {d["device_id"] for d in everyone} == {"aq-pub", "sl-int", *METERS}
    with town.hub.client() as public:
        listed = public.get("/api/v1/devices", params={"limit": 100}).json()["items"]
    assert [d["device_id"] for d in listed] == ["aq-pub"]


def test_an_operator_without_the_permission_is_answered_without_the_reading(town: Town) -> None:
    """Writing to a household's alert answers with the alert as the writer may read it:
    without the reading in it, as GET gives it, unless the key has the permission."""
    alert = town.ids["personal"]["alert"]
    crew = {"assignee": "Driftsvakta"}
    answers = {}
    for reader in ("operator", "personal"):
        with town.hub.client(reader) as client:
            assigned = client.post(f"/api/v1/alerts/{alert}/assign", json=crew)
            shown = client.get(f"/api/v1/alerts/{alert}").json()
            client.post(f"/api/v1/alerts/{alert}/assign", json={"assignee": None})
        assert assigned.status_code == 200, reader
        answers[reader] = assigned.json()
        for key, value in answers[reader].items():
            if key not in ("assignee", "assigned_at"):
                assert shown[key] == value, (reader, key)
    assert answers["operator"]["value"] is None
    assert answers["personal"]["value"] is not None


def test_the_bbox_and_text_filters_see_only_the_coarse_place_and_no_name(town: Town) -> None:
    k = 0
    exact = f"{_lon(k) - 0.00001},{_lat(k) - 0.00001},{_lon(k) + 0.00001},{_lat(k) + 0.00001}"
    with town.hub.client("viewer") as viewer:
        around = viewer.get("/api/v1/devices", params={"bbox": exact}).json()["items"]
        named = viewer.get("/api/v1/devices", params={"q": "Storgata"}).json()["items"]
    with town.hub.client("personal") as reader:
        found = reader.get("/api/v1/devices", params={"bbox": exact}).json()["items"]
    assert around == [] and named == []  # no way to find a house by its place or name
    assert [d["device_id"] for d in found] == ["wm-01"]


# --- aggregates --------------------------------------------------------------------


def test_districts_of_five_meters_are_served_and_of_four_suppressed(town: Town) -> None:
    params = {
        "metric": "volume",
        "bucket": "day",
        "from": (town.start - timedelta(days=1)).isoformat(),
        "to": (town.start + timedelta(days=1)).isoformat(),
    }
    with town.hub.client() as public:
        r = public.get("/api/v1/aggregates/districts", params=params)
        flow = public.get(
            "/api/v1/aggregates/districts", params={**params, "metric": "flow", "bucket": "hour"}
        )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["counter"] is True and body["unit"] == "m3" and body["min_group"] == 5
    # One local day, or two when the readings straddle midnight.
    days = [i for i in body["items"] if i["district"] == "Sentrum"]
    assert days and all(d["suppressed"] is False and d["meters"] == 5 for d in days)
    # Each meter's rise over the readings: its last register reading less its first.
    rise = sum(_volume(k, STEPS - 1) - _volume(k, 0) for k in range(5))
    assert sum(d["sum"] for d in days) == pytest.approx(rise)
    assert sum(d["mean"] for d in days) == pytest.approx(rise / 5)
    lade = [i for i in body["items"] if i["district"] == "Lade"]
    assert lade and all(
        d == {**d, "suppressed": True, "meters": None, "sum": None, "mean": None} for d in lade
    )
    # Hourly means of a gauge: three hours of Sentrum, Lade suppressed in each.
    assert flow.status_code == 200, flow.text
    hours = flow.json()["items"]
    sentrum = [h for h in hours if h["district"] == "Sentrum"]
    assert len(sentrum) == STEPS // 4 and all(h["meters"] == 5 for h in sentrum)
    first = [_flow(k, i) for k in range(5) for i in range(4)]
    assert sentrum[0]["sum"] == pytest.approx(sum(first) / 4)
    assert all(h["suppressed"] and h["sum"] is None for h in hours if h["district"] == "Lade")
    # A fifth meter in Lade lifts the suppression.
    with town.hub.client("operator") as operator:
        moved = operator.patch("/api/v1/devices/wm-05", json={"district": "Lade"})
        assert moved.status_code == 200
        try:
            again = operator.get("/api/v1/aggregates/districts", params=params).json()["items"]
        finally:
            operator.patch("/api/v1/devices/wm-05", json={"district": "Sentrum"})
    assert all(
        i["suppressed"] is False and i["meters"] == 5 for i in again if i["district"] == "Lade"
    )
    assert all(i["suppressed"] and i["sum"] is None for i in again if i["district"] == "Sentrum")


# --- the access log ----------------------------------------------------------------


def _log(town: Town, **params: str) -> list[dict[str, Any]]:
    with town.hub.client("admin") as admin:
        r = admin.get("/api/v1/privacy/access-log", params={"limit": 1000, **params})
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def test_reads_of_personal_data_are_logged_and_exported(town: Town) -> None:
    before = {e["id"] for e in _log(town)}
    with town.hub.client("viewer") as viewer:
        assert viewer.get("/api/v1/devices/wm-02").status_code == 200
        assert viewer.get("/api/v1/devices/wm-02/readings").status_code == 403
        assert viewer.get("/api/v1/readings/latest").status_code == 200
    with town.hub.client() as public:
        assert public.get("/api/v1/aggregates/districts?metric=volume").status_code == 200
    assert [e for e in _log(town, device_id="wm-02") if e["id"] not in before] == []

    with town.hub.client("personal") as reader:
        raw = reader.get("/api/v1/devices/wm-02/readings", params={"from": town.start.isoformat()})
        assert raw.status_code == 200
        served = len(raw.json()["readings"])
        csv_export = reader.get(
            "/api/v1/exports/readings.csv",
            params={"device": "wm-02", "from": town.start.isoformat()},
        )
        assert csv_export.status_code == 200
        assert reader.get("/api/v1/readings/latest", params={"device": "aq-pub"}).status_code == 200
    entries = [e for e in _log(town, device_id="wm-02") if e["id"] not in before]
    assert served == 2 * STEPS
    (readings,) = [e for e in entries if e["what"].startswith("readings ")]
    assert readings["rows"] == served
    export = next(e for e in entries if "readings.csv" in e["what"])
    assert export["rows"] == served
    key_prefix = town.hub.keys["personal"][:12]
    assert {e["key_prefix"] for e in entries} == {key_prefix}
    assert {e["key_name"] for e in entries} == {"test personal"}
    # Reading a public device with the permission is not personal data: not logged.
    assert not [e for e in _log(town, device_id="aq-pub") if e["id"] not in before]

    # The auditor's question, as CSV: who looked at this household this year.
    with town.hub.client("admin") as admin:
        r = admin.get(
            "/api/v1/privacy/access-log.csv",
            params={"device_id": "wm-02", "from": f"{datetime.now(UTC).year}-01-01T00:00:00Z"},
        )
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert admin.get("/api/v1/privacy/access-log").status_code == 200
    with town.hub.client("operator") as operator:
        assert operator.get("/api/v1/privacy/access-log").status_code == 403
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert {int(row["id"]) for row in rows} >= {e["id"] for e in entries}
    assert all(row["device_id"] == "wm-02" and row["key_prefix"] == key_prefix for row in rows)


def test_old_access_log_entries_are_pruned(town: Town) -> None:
    import asyncio

    from hub.privacy.access_log import prune
    from hub.store.db import aconnect

    with connect(town.hub.settings.database_url, "test") as conn:
        conn.execute(
            "INSERT INTO personal_access_log (at, key_id, device_id, what, rows) VALUES "
            "(now() - interval '401 days', 1, 'wm-09', 'old', 1), "
            "(now() - interval '399 days', 1, 'wm-09', 'kept', 1)"
        )
        conn.commit()

    async def run() -> int:
        async with await aconnect(town.hub.settings.database_url, "test", autocommit=True) as c:
            return await prune(c, 400)

    assert asyncio.run(run()) == 1
    assert [e["what"] for e in _log(town, device_id="wm-09")] == ["kept"]


# --- the paths without a query -----------------------------------------------------


class _Stream:
    """An SSE reader in a thread: the data lines as dicts."""

    def __init__(self, town: Town, reader: str | None) -> None:
        self.events: list[dict[str, Any]] = []
        self._client = town.hub.client(reader)
        self._open = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with (
            contextlib.suppress(httpx.HTTPError),
            self._client.stream("GET", "/api/v1/stream") as r,
        ):
            assert r.status_code == 200
            self._open.set()
            for line in r.iter_lines():
                if line.startswith("data: "):
                    self.events.append(orjson.loads(line[6:]))

    def __enter__(self) -> _Stream:
        self._thread.start()
        assert self._open.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close()
        self._thread.join(5)

    def readings_of(self, device: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == "reading" and e["device_id"] == device]


def _round(town: Town) -> float:
    """One more reading of a meter and of the public and internal devices (the meter's
    first, so that it has been handled when theirs arrive). Returns the meter's flow."""
    i = next(_seq)
    at = int((datetime.now(UTC) - timedelta(minutes=1)).timestamp() * 1000) + i
    flow = round(900 + i * 0.0007, 4)
    hub = town.hub
    hub.publish([(hub.topic("wm-03", "water_meter"), orjson.dumps({"ts": at, "flow": flow}))])
    hub.publish(
        [
            (hub.topic("aq-pub", "air_quality"), orjson.dumps({"ts": at, "no2": 30.5})),
            (hub.topic("sl-int", "street_light"), orjson.dumps({"ts": at, "power": 41.5})),
        ]
    )
    return flow


def test_the_live_stream_carries_personal_readings_only_with_the_permission(town: Town) -> None:
    with _Stream(town, None) as public, _Stream(town, "viewer") as viewer:
        with _Stream(town, "personal") as reader:

            def arrived() -> bool:
                _round(town)
                return bool(reader.readings_of("wm-03"))

            wait_for(arrived, 20, "the meter's reading on the permitted stream", every=0.5)
            # Each stream gets events in the order they were committed: once a later
            # round reached the others, the meter's reading would have been before it.
            seen = len(public.readings_of("aq-pub")), len(viewer.readings_of("sl-int"))
            _round(town)
            wait_for(
                lambda: (
                    (len(public.readings_of("aq-pub")), len(viewer.readings_of("sl-int"))) > seen
                ),
                10,
                "a later round on the public and the viewer's streams",
            )
        assert public.readings_of("wm-03") == [] and public.readings_of("sl-int") == []
        assert viewer.readings_of("wm-03") == []
        assert not any(e["device_id"] in METERS for e in public.events + viewer.events)
    # The personal readings the stream sent are logged when it ends.
    wait_for(
        lambda: any(e["what"] == "GET /api/v1/stream" for e in _log(town, device_id="wm-03")),
        10,
        "the stream in the access log",
    )


def test_the_sta_mqtt_feed_never_carries_a_personal_reading(town: Town) -> None:
    host, port, _, _, _ = mqtt_endpoint(town.hub.settings.mqtt_url)
    got: list[tuple[str, bytes]] = []
    subscribed = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.on_connect = lambda c, u, f, rc, p: c.subscribe("v1.1/#", qos=0)
    client.on_subscribe = lambda c, u, mid, rcs, p: subscribed.set()
    client.on_message = lambda c, u, m: got.append((m.topic, m.payload))
    client.connect(host, port)
    client.loop_start()
    try:
        assert subscribed.wait(10)
        public = f"v1.1/Datastreams({town.ids['public']['series']})/Observations"
        internal = f"v1.1/Datastreams({town.ids['internal']['series']})/Observations"
        flows: list[float] = []

        def arrived() -> bool:
            flows.append(_round(town))
            topics = {t for t, _ in got}
            return public in topics and internal in topics

        wait_for(arrived, 20, "public and internal observations on the feed", every=0.5)
    finally:
        client.disconnect()
        client.loop_stop()
    with connect(town.hub.settings.database_url, "test") as conn:
        meters = conn.execute(
            "SELECT s.id FROM series s JOIN devices d ON d.id = s.device "
            "WHERE d.data_class = 'personal'"
        ).fetchall()
    personal = {f"v1.1/Datastreams({row[0]})/Observations" for row in meters}
    assert personal and not {t for t, _ in got} & personal
    assert not any(repr(f).encode() in payload for f in flows for _, payload in got)


def test_ngsi_push_and_notifications_never_carry_a_personal_device(town: Town) -> None:
    receiver = town.receiver
    body = {
        "id": f"urn:ngsi-ld:Subscription:privacy-{town.storage}",
        "type": "Subscription",
        "entities": [{"type": "WaterConsumptionObserved"}, {"type": "AirQualityObserved"}],
        "notification": {
            "format": "normalized",
            "endpoint": {"uri": f"{receiver.url}/notify", "accept": "application/json"},
        },
    }
    with town.hub.client("operator") as operator:
        r = operator.post(
            "/ngsi-ld/v1/subscriptions",
            content=orjson.dumps(body),
            headers={"Content-Type": "application/json"},
        )
    assert r.status_code == 201, r.text

    def notified() -> bool:
        _round(town)
        return any(
            e.get("id") == ENTITY["public"]
            for n in receiver.received("/notify")
            for e in n.body.get("data", [])
        )

    wait_for(notified, 30, "a notification of the public monitor", every=0.5)
    # The push works, and carries the public monitor.
    wait_for(lambda: ENTITY["public"] in {e["id"] for e in receiver.entities()}, 20, "the push")
    sent = orjson.dumps([r.body for r in receiver.requests]).decode()
    assert not any(meter in sent for meter in METERS)
    assert not [s for s in town.secrets if s in sent]


def test_readyz_says_what_open_data_exposes_per_class(town: Town) -> None:
    r = httpx.get(f"{town.hub.url}/readyz", timeout=10)
    privacy = r.json()["detail"]["privacy"]
    assert privacy["open_data"] is True
    assert set(privacy["classes"]) == set(CLASSES)
    assert "in full" in privacy["classes"]["public"]
    assert "not served" in privacy["classes"]["internal"]
    assert "aggregates" in privacy["classes"]["personal"] and "5" in privacy["classes"]["personal"]
    process = town.hub.process
    (first,) = sorted(process.log_dir.glob(f"hub-{process.port}-1.log"))
    log = first.read_text(errors="replace")
    for data_class in CLASSES:
        assert f"data class {data_class} (" in log
    assert "without a key only as aggregates" in log
