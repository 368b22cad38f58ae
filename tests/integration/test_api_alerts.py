"""Alerts and rules through the API against a real hub: rules made, checked,
replaced and deleted, profile defaults read-only, and an alert (opened by the
engine's repository) acknowledged and resolved by an operator, with its history,
a live event, and the alerts-by-state metric."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.devstack import Devstack
from hub.model import Alert
from hub.store.db import connect
from tests.integration.api_helpers import ApiHub, Listener, open_alert, start_hub
from tests.integration.helpers import metric_value, telemetry

RULE = {
    "name": "hot",
    "kind": "threshold",
    "profile": "load_meter",
    "metric": "a",
    "parameters": {"above": 50, "for_s": 60},
    "severity": "critical",
    "description": "a above 50 for a minute",
}


@pytest.fixture(scope="module")
def hub(stack: Devstack) -> Iterator[ApiHub]:
    api = start_hub(stack, Path(tempfile.mkdtemp(prefix="hub-api-alerts-")))
    api.publish([(api.topic(d), telemetry(1)) for d in ("lm-a1", "lm-a2")])
    api.wait_stored("lm-a1", 3)
    api.wait_stored("lm-a2", 3)
    yield api
    api.stop()


def _open_alert(hub: ApiHub, rule_id: int, device_id: str) -> Alert:
    return open_alert(
        hub.settings.database_url,
        rule_id,
        device_id,
        severity="critical",
        message=f"a too high on {device_id}",
        value=61.5,
        details={"above": 50},
    )


def _create_rule(hub: ApiHub, **changes: Any) -> dict[str, Any]:
    with hub.client("operator") as client:
        r = client.post("/api/v1/rules", json={**RULE, **changes})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def test_rules_are_created_replaced_and_deleted(hub: ApiHub) -> None:
    rule = _create_rule(hub, name="hot_a1", device_id="lm-a1")
    assert rule["source"] == "api" and rule["device_id"] == "lm-a1"
    with hub.client("operator") as client:
        assert client.get(f"/api/v1/rules/{rule['id']}").json() == rule
        listed = client.get(
            "/api/v1/rules", params={"profile": "load_meter", "source": "api"}
        ).json()
        assert rule["id"] in [r["id"] for r in listed]
        replaced = client.put(
            f"/api/v1/rules/{rule['id']}", json={**RULE, "name": "hot_a1", "enabled": False}
        )
        assert replaced.status_code == 200, replaced.text
        assert replaced.json()["enabled"] is False and replaced.json()["device_id"] is None
        assert client.delete(f"/api/v1/rules/{rule['id']}").status_code == 204
        assert client.get(f"/api/v1/rules/{rule['id']}").status_code == 404
        assert client.delete(f"/api/v1/rules/{rule['id']}").status_code == 404


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"parameters": {"for_s": 60}}, "parameters", "above"),
        ({"metric": "nope"}, "metric", "not a metric of load_meter"),
        ({"profile": "nope"}, "profile", "unknown profile"),
        ({"device_id": "lm-ghost"}, "device_id", "no device"),
        ({"device_id": "lm-a1", "district": "Lade"}, "district", "not both"),
        ({"kind": "sometimes"}, "kind", "Input should be"),
    ],
)
def test_a_wrong_rule_gets_a_422_naming_the_field(
    hub: ApiHub, changes: dict[str, Any], field: str, says: str
) -> None:
    with hub.client("operator") as client:
        r = client.post("/api/v1/rules", json={**RULE, **changes})
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["invalid_params"][0]["name"] == field
    assert says in problem["detail"]


def test_profile_default_rules_are_read_only(hub: ApiHub) -> None:
    with connect(hub.settings.database_url, "test", autocommit=True) as conn:
        row = conn.execute(
            """INSERT INTO rules (name, kind, profile, metric, parameters, severity, source)
               VALUES ('default_hot', 'threshold', 'load_meter', 'a', '{"above": 90}',
                       'warning', 'profile') RETURNING id"""
        ).fetchone()
    assert row is not None
    with hub.client("admin") as client:
        put = client.put(f"/api/v1/rules/{row[0]}", json=RULE)
        delete = client.delete(f"/api/v1/rules/{row[0]}")
        listed = client.get("/api/v1/rules", params={"source": "profile"}).json()
    assert put.status_code == 409 and "profile" in put.json()["detail"]
    assert delete.status_code == 409
    assert [r["name"] for r in listed] == ["default_hot"]


def test_operator_acknowledges_and_resolves_an_alert(hub: ApiHub) -> None:
    rule = _create_rule(hub, name="hot_lifecycle")
    alert = _open_alert(hub, rule["id"], "lm-a1")
    with hub.client("viewer") as viewer:
        listed = viewer.get("/api/v1/alerts", params={"state": "open", "device_id": "lm-a1"}).json()
        assert [a["id"] for a in listed["items"]] == [alert.id]
        device = viewer.get("/api/v1/devices/lm-a1").json()
        assert [a["id"] for a in device["open_alerts"]] == [alert.id]
        assert viewer.post(f"/api/v1/alerts/{alert.id}/acknowledge").status_code == 403

    with Listener(hub, type="alert", device="lm-a1") as listener, hub.client("operator") as client:
        ack = client.post(f"/api/v1/alerts/{alert.id}/acknowledge", json={"note": "crew sent"})
        assert ack.status_code == 200, ack.text
        assert ack.json()["state"] == "acknowledged"
        assert ack.json()["acknowledged_by"].endswith("test operator")
        (event,) = listener.take("alert", 1)
        assert event["id"] == alert.id and event["state"] == "acknowledged"  # type: ignore[index]

        resolved = client.post(f"/api/v1/alerts/{alert.id}/resolve")
        assert resolved.json()["state"] == "resolved"
        assert client.post(f"/api/v1/alerts/{alert.id}/resolve").status_code == 200
        again = client.post(f"/api/v1/alerts/{alert.id}/acknowledge")
        assert again.status_code == 409, again.text
        detail = client.get(f"/api/v1/alerts/{alert.id}").json()

    assert [(h["state"], h["actor"], h["note"]) for h in detail["history"]] == [
        ("open", "engine", "a too high on lm-a1"),
        ("acknowledged", ack.json()["acknowledged_by"], "crew sent"),
        ("resolved", ack.json()["acknowledged_by"], None),
    ]
    with hub.client("viewer") as viewer:
        assert viewer.get("/api/v1/devices/lm-a1").json()["open_alerts"] == []
    assert metric_value(hub.process.port, 'hub_alerts{state="resolved"}') >= 1
    route = "/api/v1/alerts/{alert_id}/acknowledge"
    assert (
        metric_value(
            hub.process.port,
            f'hub_api_request_seconds_count{{method="POST",route="{route}",status="200"}}',
        )
        == 1
    )


def test_alert_pages_and_filters(hub: ApiHub) -> None:
    ids = []
    for n in range(3):
        rule = _create_rule(hub, name=f"page_{n}")
        ids.append(_open_alert(hub, rule["id"], "lm-a2").id)
    with hub.client("viewer") as client:
        seen: list[int] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"device_id": "lm-a2", "limit": 2}
            if cursor:
                params["cursor"] = cursor
            page = client.get("/api/v1/alerts", params=params).json()
            seen += [a["id"] for a in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == sorted(ids, reverse=True)
        assert (
            client.get("/api/v1/alerts", params={"severity": "info", "device_id": "lm-a2"}).json()[
                "items"
            ]
            == []
        )
        assert client.get("/api/v1/alerts/999999").status_code == 404
        assert client.get("/api/v1/alerts", params={"state": "closed"}).status_code == 422
