"""The dashboard in headless Chromium against a hub fed by the simulators."""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.fleet import BURST_METER, Fleet

CHARTED = "aq-0001"  # an air monitor: several gauges, one chart each
# Devices on the map: single markers plus the counts of the clusters in view.
ON_MAP = """() => document.querySelectorAll('.device-marker').length +
  [...document.querySelectorAll('.cluster')].reduce((n, c) => n + Number(c.textContent.replace(/\\D/g, '')), 0)"""


def test_overview_map_shows_every_device_of_the_fleet(fleet: Fleet, page: Any) -> None:
    page.goto(f"{fleet.url}/#/")
    located = sum(1 for d in fleet.devices if d["location"])
    assert located == len(fleet.devices)
    page.wait_for_function(f"document.querySelector('#map')?.dataset.markers === '{located}'")
    assert page.evaluate(ON_MAP) == located
    online = sum(
        1 for d in fleet.get("/api/v1/devices", limit=1000)["items"] if d["status"] == "online"
    )
    assert page.locator("[data-figure=online]").inner_text().endswith(f"/ {len(fleet.devices)}")
    assert online > 0

    page.select_option("#filter-profile", "air_quality")
    monitors = sum(1 for d in fleet.devices if d["profile"] == "air_quality")
    page.wait_for_function(f"document.querySelector('#map').dataset.markers === '{monitors}'")
    assert page.evaluate(ON_MAP) == monitors
    page.select_option("#filter-profile", "")


def test_device_page_charts_the_readings_of_the_last_hour(fleet: Fleet, page: Any) -> None:
    page.goto(f"{fleet.url}/#/device/{CHARTED}")
    chart = page.locator("[data-chart=no2]")
    chart.wait_for()
    page.wait_for_function("Number(document.querySelector('[data-chart=no2]').dataset.points) > 10")
    assert chart.locator("canvas").count() == 1
    assert page.locator("[data-metric=no2] .unit").inner_text().strip() == "µg/m³"
    assert page.locator("[data-metric=no2] .name").inner_text() == "NO₂"
    # a bucketed range draws too
    page.click("[data-range='24h']")
    page.wait_for_function(
        "document.querySelector('[data-range=\"24h\"]').classList.contains('active')"
    )
    page.wait_for_function("Number(document.querySelector('[data-chart=no2]').dataset.points) > 0")


def test_device_page_shows_a_live_reading_without_reload(fleet: Fleet, page: Any) -> None:
    page.goto(f"{fleet.url}/#/device/{CHARTED}")
    page.locator("[data-chart=no2]").wait_for()
    page.wait_for_function("document.querySelector('#live').dataset.state === 'live'")
    page.evaluate("window.__notReloaded = true")
    before = page.locator("[data-metric=no2] small").inner_text()
    points = int(page.locator("[data-chart=no2]").get_attribute("data-points") or 0)
    page.wait_for_function(
        "([before, points]) => document.querySelector('[data-metric=no2] small').textContent !== before"
        " && Number(document.querySelector('[data-chart=no2]').dataset.points) > points",
        arg=[before, points],
        timeout=20000,
    )
    assert page.evaluate("window.__notReloaded") is True


def test_injected_burst_appears_in_the_inbox_and_is_acknowledged(fleet: Fleet, page: Any) -> None:
    page.goto(f"{fleet.url}/#/alerts")
    row = page.locator(f"#inbox li[data-device='{BURST_METER}']").first
    row.wait_for(timeout=45000)
    assert "sev-critical" in (row.get_attribute("class") or "")
    page.evaluate("window.__notReloaded = true")
    alert_id = row.get_attribute("data-alert-id")

    page.fill("#key-input", fleet.operator_key)
    page.click("#key-save")
    row = page.locator(f"#inbox li[data-alert-id='{alert_id}']")
    row.locator("button.ack").click()
    page.wait_for_function(
        f"document.querySelector(\"#inbox li[data-alert-id='{alert_id}']\")?.dataset.state"
        " === 'acknowledged'"
    )
    stored = httpx.get(f"{fleet.url}/api/v1/alerts/{alert_id}", timeout=5).json()
    assert stored["state"] == "acknowledged"
    assert stored["acknowledged_by"]

    # someone else resolves it: the list follows without a reload
    resolved = httpx.post(
        f"{fleet.url}/api/v1/alerts/{alert_id}/resolve",
        headers={"Authorization": f"Bearer {fleet.operator_key}"},
        json={"note": "e2e"},
        timeout=5,
    )
    assert resolved.status_code == 200, resolved.text
    page.wait_for_function(f"!document.querySelector(\"#inbox li[data-alert-id='{alert_id}']\")")
    assert page.evaluate("window.__notReloaded") is True


def test_pages_fit_a_1280x720_screen(fleet: Fleet, page: Any) -> None:
    page.set_viewport_size({"width": 1280, "height": 720})
    for route, ready in [
        ("#/", ".device-marker, .cluster"),
        (f"#/device/{CHARTED}", "[data-chart=no2] canvas"),
        ("#/alerts", "#inbox-summary"),
        ("#/health", "#health tbody tr"),
        ("#/air", "#air .air-card"),
    ]:
        page.goto(f"{fleet.url}/{route}")
        page.locator(ready).first.wait_for()
        width = page.evaluate("document.documentElement.scrollWidth")
        height = page.evaluate("document.documentElement.scrollHeight")
        assert width <= 1280, f"{route} is {width} px wide at 1280x720"
        assert height <= 720, f"{route} is {height} px tall at 1280x720"


def test_unknown_vendor_file_is_404_not_a_server_error(fleet: Fleet) -> None:
    assert httpx.get(f"{fleet.url}/vendor/leaflet/../../package.json").status_code == 404
    assert httpx.get(f"{fleet.url}/vendor/leaflet/leaflet.js").status_code == 200
