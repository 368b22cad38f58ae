"""A rule made, changed or deleted through the API holds from the next committed
reading, not from the engine's next scheduled run (set to five minutes here, so
waiting for it would time out)."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from hub.devstack import Devstack
from tests.integration.api_helpers import ApiHub, start_hub
from tests.integration.helpers import telemetry, wait_for


@pytest.fixture(scope="module")
def hub(stack: Devstack) -> Iterator[ApiHub]:
    api = start_hub(
        stack, Path(tempfile.mkdtemp(prefix="hub-rule-changes-")), HUB_ALERTS_INTERVAL_S="300"
    )
    yield api
    api.stop()


def _reading(a: float) -> bytes:
    return orjson.dumps({"ts": int(time.time() * 1000), "seq": 1, "a": a, "b": 0})


def _alerts(hub: ApiHub, device_id: str, rule_id: int) -> list[dict[str, Any]]:
    with hub.client("viewer") as client:
        items = client.get("/api/v1/alerts", params={"device_id": device_id}).json()["items"]
    return [a for a in items if a["rule_id"] == rule_id]


def test_a_new_rule_judges_the_next_reading(hub: ApiHub) -> None:
    device = "lm-rule1"
    hub.publish([(hub.topic(device), telemetry(1))])
    hub.wait_stored(device, 3)
    with hub.client("operator") as client:
        rule = client.post(
            "/api/v1/rules",
            json={"name": "a_high_now", "kind": "threshold", "profile": "load_meter",
                  "metric": "a", "device_id": device, "parameters": {"above": 50},
                  "severity": "warning"},
        ).json()  # fmt: skip
    hub.publish([(hub.topic(device), _reading(75.0))])
    wait_for(lambda: bool(_alerts(hub, device, rule["id"])), 15, "the new rule's alert")
    alert = _alerts(hub, device, rule["id"])[0]
    assert alert["state"] == "open" and alert["value"] == 75.0
    # the message carries the unit of the profile's metric (load_meter's a is in Cel)
    assert alert["message"] == "a_high_now: a 75 Cel above 50 Cel"


def test_a_changed_rule_judges_the_next_reading(hub: ApiHub) -> None:
    device = "lm-rule2"
    hub.publish([(hub.topic(device), _reading(30.0))])
    hub.wait_stored(device, 3)
    body = {"name": "a_high_later", "kind": "threshold", "profile": "load_meter",
            "metric": "a", "device_id": device, "parameters": {"above": 100},
            "severity": "warning"}  # fmt: skip
    with hub.client("operator") as client:
        rule = client.post("/api/v1/rules", json=body).json()
        hub.publish([(hub.topic(device), _reading(40.0))])
        wait_for(lambda: hub.readings_stored(device) >= 6, 15, "the second reading")
        assert _alerts(hub, device, rule["id"]) == []
        changed = client.put(
            f"/api/v1/rules/{rule['id']}", json={**body, "parameters": {"above": 35}}
        )
        assert changed.status_code == 200, changed.text
    hub.publish([(hub.topic(device), _reading(45.0))])
    wait_for(lambda: bool(_alerts(hub, device, rule["id"])), 15, "the changed rule's alert")
