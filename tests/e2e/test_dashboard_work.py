"""Work on alerts in the browser: assign an alert to a crew from the inbox, filter
the inbox by severity, profile, district and assignee, export what is shown as
CSV, and on the alert's page add a note and see the readings around it with the
rule's threshold drawn."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.conftest import STAYS_OPEN, Fleet, ready, save_key

CREW = "Feltlag nord"


def _burst_alert(fleet: Fleet, page: Any) -> str:
    row = page.locator(f"#inbox li[data-device='{STAYS_OPEN}']").first
    row.wait_for(timeout=45000)
    alert_id = row.get_attribute("data-alert-id")
    assert alert_id
    return alert_id


def test_assign_filter_and_export_the_inbox(fleet: Fleet, page: Any) -> None:
    save_key(page, fleet.operator_key)
    page.goto(f"{fleet.url}/#/alerts")
    ready(page)
    alert_id = _burst_alert(fleet, page)
    row = page.locator(f"#inbox li[data-alert-id='{alert_id}']")
    # the burst rule's message names the flow with its unit
    assert " l/h above 3000 l/h" in row.locator(".what").inner_text()
    row.locator("input.assignee-input").fill(CREW)
    row.locator("button.assign-save").click()
    page.wait_for_function(
        f"document.querySelector(\"#inbox li[data-alert-id='{alert_id}']\")"
        f"?.textContent.includes('tildelt {CREW}')"
    )
    assert fleet.get(f"/api/v1/alerts/{alert_id}")["assignee"] == CREW

    # the assignee filter shows only the crew's alerts; "unassigned" hides it
    page.select_option("#inbox-assignee", CREW)
    shown = page.eval_on_selector_all(
        "#inbox li[data-alert-id]", "ls => ls.map((l) => l.dataset.alertId)"
    )
    assert shown == [alert_id]
    page.select_option("#inbox-assignee", "-")
    assert page.locator(f"#inbox li[data-alert-id='{alert_id}']").count() == 0
    page.select_option("#inbox-assignee", "")
    # severity, profile and district filters
    page.select_option("#inbox-severity", "warning")
    severities = page.eval_on_selector_all(
        "#inbox li[data-alert-id]", "ls => ls.map((l) => l.className)"
    )
    assert all("sev-warning" in c for c in severities)
    page.select_option("#inbox-severity", "critical")
    page.select_option("#inbox-profile", "water_meter")
    district = fleet.get(f"/api/v1/devices/{STAYS_OPEN}")["district"]
    page.select_option("#inbox-district", district)
    devices = page.eval_on_selector_all(
        "#inbox li[data-alert-id]", "ls => ls.map((l) => l.dataset.device)"
    )
    assert STAYS_OPEN in devices
    assert all(fleet.get(f"/api/v1/devices/{d}")["district"] == district for d in devices)

    # the export holds what the filters show
    with page.expect_download() as download:
        page.click("#inbox-export")
    body = Path(download.value.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert {r["id"] for r in rows} == set(
        page.eval_on_selector_all(
            "#inbox li[data-alert-id]", "ls => ls.map((l) => l.dataset.alertId)"
        )
    )
    assert all(r["severity"] == "critical" and r["profile"] == "water_meter" for r in rows)
    assert any(r["assignee"] == CREW for r in rows)


def test_the_alert_page_takes_notes_and_charts_the_readings_with_the_threshold(
    fleet: Fleet, page: Any
) -> None:
    save_key(page, fleet.operator_key)
    page.goto(f"{fleet.url}/#/alerts")
    ready(page)
    alert_id = _burst_alert(fleet, page)
    page.click(f"#inbox li[data-alert-id='{alert_id}'] a.open-alert")
    page.locator("#alert-facts").wait_for()
    # the readings around it, the rule's limit drawn (burst: flow above 3000 l/h)
    chart = page.locator("#alert-chart")
    page.wait_for_function("Number(document.querySelector('#alert-chart').dataset.points) > 0")
    assert chart.get_attribute("data-chart") == "flow"
    assert chart.get_attribute("data-thresholds") == "1"
    assert float(chart.get_attribute("data-ymax") or 0) >= 3000
    assert chart.locator("canvas").count() == 1
    assert "l/t" in page.locator("#alert-facts").inner_text()  # the value with its unit
    # a note
    page.fill("#note-text", "Lekkasje meldt til vakthavende")
    page.click("#note-save")
    page.locator("#alert-notes li[data-note]").first.wait_for()
    assert "Lekkasje meldt til vakthavende" in page.locator("#alert-notes").inner_text()
    notes = httpx.get(f"{fleet.url}/api/v1/alerts/{alert_id}/notes", timeout=5).json()
    assert [n["text"] for n in notes][-1] == "Lekkasje meldt til vakthavende"
