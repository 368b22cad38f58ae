"""Every chart and list says why it is empty: a device that reports less often than
the chosen range, or whose readings are older, gets a chart that says so (not a
blank field under "last seen 8 s ago"), and a device that never reported says it
never did."""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson
from paho.mqtt import publish

from hub.config import mqtt_endpoint
from tests.e2e.conftest import Fleet, ready


def test_a_chart_without_readings_in_range_says_why(fleet: Fleet, page: Any) -> None:
    device = "wm-9100"
    # one report, stamped three hours ago, arriving now: "last seen" is now
    stamp = int(time.time() * 1000) - 3 * 3600 * 1000
    payload = orjson.dumps({"ts": stamp, "flow": 12.5, "volume": 101.25, "temperature": 8.5})
    host, port, *_ = mqtt_endpoint(fleet.settings.mqtt_url)
    topic = f"{fleet.settings.topic_prefix}/water_meter/{device}/telemetry"
    publish.single(topic, payload, qos=1, hostname=host, port=port)

    def stored() -> bool:
        r = httpx.get(f"{fleet.url}/api/v1/devices/{device}", timeout=5)
        return r.status_code == 200 and any(m["latest"] for m in r.json()["metrics"])

    deadline = time.monotonic() + 30
    while not stored():
        assert time.monotonic() < deadline, "the old reading was not stored"
        page.wait_for_timeout(200)
    page.goto(f"{fleet.url}/#/device/{device}")
    ready(page)
    page.click("[data-range='1h']")
    note = page.locator("[data-chart=flow] .chart-empty")
    note.wait_for()
    assert page.locator("[data-chart=flow]").get_attribute("data-points") == "0"
    text = note.inner_text()
    assert "Ingen målinger" in text and "1 t" in text and "15 min" in text, text
    # the 24 h range has the reading, and the note goes
    page.click("[data-range='24h']")
    page.wait_for_function("Number(document.querySelector('[data-chart=flow]').dataset.points) > 0")
    assert note.is_hidden()


def test_a_device_that_never_reported_says_so(fleet: Fleet, page: Any) -> None:
    device = "aq-9100"
    auth = {"Authorization": f"Bearer {fleet.operator_key}"}
    r = httpx.post(
        f"{fleet.url}/api/v1/devices", headers=auth,
        json={"device_id": device, "profile": "air_quality"}, timeout=5,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    try:
        page.goto(f"{fleet.url}/#/device/{device}")
        ready(page)
        assert "aldri rapportert" in page.locator("#charts-empty").inner_text()
        assert "aldri" in page.locator("#last-seen").inner_text()
    finally:
        httpx.post(f"{fleet.url}/api/v1/devices/{device}/decommission", headers=auth, timeout=5)
