"""Work on alerts through the API against a real hub: an operator assigns an alert
to a crew and adds notes, the inbox filters by assignee, a viewer may read but not
change, and the CSV export holds exactly the filtered alerts."""

from __future__ import annotations

import asyncio
import csv
import io
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.devstack import Devstack
from hub.model import Alert
from hub.store import alerts as alert_store
from hub.store.db import aconnect
from tests.integration.api_helpers import ApiHub, Listener, start_hub
from tests.integration.helpers import telemetry

RULE = {
    "name": "hot_work",
    "kind": "threshold",
    "profile": "load_meter",
    "metric": "a",
    "parameters": {"above": 50, "for_s": 60},
    "severity": "critical",
}


@pytest.fixture(scope="module")
def hub(stack: Devstack) -> Iterator[ApiHub]:
    api = start_hub(stack, Path(tempfile.mkdtemp(prefix="hub-api-work-")))
    api.publish([(api.topic(d), telemetry(1)) for d in ("lm-w1", "lm-w2")])
    api.wait_stored("lm-w1", 3)
    api.wait_stored("lm-w2", 3)
    yield api
    api.stop()


def _open(hub: ApiHub, rule_id: int, device_id: str, severity: str = "critical") -> Alert:
    async def run() -> Alert:
        async with await aconnect(hub.settings.database_url, "test", autocommit=True) as conn:
            cur = await conn.execute("SELECT id FROM devices WHERE device_id = %s", (device_id,))
            row = await cur.fetchone()
            assert row is not None
            alert = await alert_store.open_alert(
                conn, rule_id=rule_id, device=row[0], severity=severity,
                message=f"a 61.5 A above 50 A on {device_id}", value=61.5, details={},
            )  # fmt: skip
            assert alert is not None
            return alert

    return asyncio.run(run())


@pytest.fixture(scope="module")
def alerts(hub: ApiHub) -> dict[str, Any]:
    with hub.client("operator") as client:
        rule = client.post("/api/v1/rules", json=RULE).json()
        other = client.post(
            "/api/v1/rules", json={**RULE, "name": "warm_work", "severity": "warning"}
        ).json()
    return {
        "w1": _open(hub, rule["id"], "lm-w1"),
        "w2": _open(hub, rule["id"], "lm-w2"),
        "w1_warning": _open(hub, other["id"], "lm-w1", "warning"),
    }


def test_an_operator_assigns_an_alert_and_every_inbox_hears_of_it(
    hub: ApiHub, alerts: dict[str, Any]
) -> None:
    alert = alerts["w1"]
    with Listener(hub, type="alert") as live, hub.client("operator") as client:
        r = client.post(f"/api/v1/alerts/{alert.id}/assign", json={"assignee": "Feltlag nord"})
        assert r.status_code == 200, r.text
        assert r.json()["assignee"] == "Feltlag nord" and r.json()["assigned_at"]
        heard = live.take("alert", 1)
    assert heard[0]["id"] == alert.id and heard[0]["assignee"] == "Feltlag nord"  # type: ignore[index]
    with hub.client("viewer") as viewer:
        mine = viewer.get("/api/v1/alerts", params={"assignee": "Feltlag nord"}).json()["items"]
        nobody = viewer.get("/api/v1/alerts", params={"unassigned": "true"}).json()["items"]
        refused = viewer.post(f"/api/v1/alerts/{alert.id}/assign", json={"assignee": "x"})
    assert [a["id"] for a in mine] == [alert.id]
    assert alert.id not in [a["id"] for a in nobody]
    assert {alerts["w2"].id, alerts["w1_warning"].id} <= {a["id"] for a in nobody}
    assert refused.status_code == 403


def test_assignment_is_taken_back_with_null_and_unknown_alerts_are_404(
    hub: ApiHub, alerts: dict[str, Any]
) -> None:
    alert = alerts["w2"]
    with hub.client("operator") as client:
        client.post(f"/api/v1/alerts/{alert.id}/assign", json={"assignee": "Ola"})
        back = client.post(f"/api/v1/alerts/{alert.id}/assign", json={"assignee": None})
        missing = client.post("/api/v1/alerts/999999/assign", json={"assignee": "Ola"})
        empty = client.post(f"/api/v1/alerts/{alert.id}/assign", json={"assignee": ""})
    assert back.status_code == 200 and back.json()["assignee"] is None
    assert missing.status_code == 404
    assert empty.status_code == 422


def test_notes_are_added_and_shown_with_the_alert(hub: ApiHub, alerts: dict[str, Any]) -> None:
    alert = alerts["w1"]
    with hub.client("operator") as client:
        first = client.post(f"/api/v1/alerts/{alert.id}/notes", json={"text": "Sikring byttet"})
        second = client.post(f"/api/v1/alerts/{alert.id}/notes", json={"text": "Følges opp fredag"})
        blank = client.post(f"/api/v1/alerts/{alert.id}/notes", json={"text": ""})
        missing = client.post("/api/v1/alerts/999999/notes", json={"text": "x"})
    assert first.status_code == 201, first.text
    assert second.status_code == 201 and blank.status_code == 422 and missing.status_code == 404
    with hub.client("viewer") as viewer:
        detail = viewer.get(f"/api/v1/alerts/{alert.id}").json()
        listed = viewer.get(f"/api/v1/alerts/{alert.id}/notes").json()
        refused = viewer.post(f"/api/v1/alerts/{alert.id}/notes", json={"text": "x"})
    assert [n["text"] for n in detail["notes"]] == ["Sikring byttet", "Følges opp fredag"]
    assert listed == detail["notes"]
    assert detail["notes"][0]["author"]
    assert refused.status_code == 403


def test_the_csv_export_holds_the_filtered_inbox(hub: ApiHub, alerts: dict[str, Any]) -> None:
    with hub.client("operator") as client:
        client.post(f"/api/v1/alerts/{alerts['w1'].id}/assign", json={"assignee": "Feltlag nord"})
    with hub.client("viewer") as viewer:
        everything = viewer.get("/api/v1/alerts/export.csv")
        critical = viewer.get("/api/v1/alerts/export.csv", params={"severity": "critical"})
        crew = viewer.get("/api/v1/alerts/export.csv", params={"assignee": "Feltlag nord"})
    assert everything.status_code == 200, everything.text
    assert everything.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(everything.text)))
    ids = {int(r["id"]) for r in rows}
    assert {a.id for a in alerts.values()} <= ids
    by_id = {int(r["id"]): r for r in rows}
    w1 = by_id[alerts["w1"].id]
    assert w1["device_id"] == "lm-w1" and w1["severity"] == "critical"
    assert w1["assignee"] == "Feltlag nord" and float(w1["value"]) == 61.5
    assert w1["message"] == "a 61.5 A above 50 A on lm-w1"
    assert {r["severity"] for r in csv.DictReader(io.StringIO(critical.text))} == {"critical"}
    assert [int(r["id"]) for r in csv.DictReader(io.StringIO(crew.text))] == [alerts["w1"].id]
