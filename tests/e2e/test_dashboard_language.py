"""Norwegian first: bokmål by default, English remembered per browser, dates and
numbers in the chosen locale, a 24-hour clock in Europe/Oslo, metric names and
units from the profiles, and device-page charts that show what was chosen."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tests.e2e.conftest import Fleet, ready

OSLO = ZoneInfo("Europe/Oslo")
LAMP = "sl-0001"
MONITOR = "aq-0001"


def _norwegian(value: float) -> str:
    """How nb-NO writes a value with the dashboard's digits (2 under 100)."""
    digits = 0 if abs(value) >= 1000 else 1 if abs(value) >= 100 else 2 if abs(value) >= 1 else 3
    text = f"{abs(value):.{digits}f}".rstrip("0").rstrip(".") if digits else f"{abs(value):.0f}"
    text = text.replace(".", ",")
    return f"\u2212{text}" if value < 0 and text != "0" else text


def test_norwegian_by_default_and_english_remembered(fleet: Fleet, page: Any) -> None:
    page.goto(f"{fleet.url}/#/")
    ready(page)
    assert page.evaluate("document.documentElement.lang") == "nb"
    assert page.locator("[data-nav=overview]").inner_text() == "Oversikt"
    assert page.locator("[data-nav=alerts]").inner_text().startswith("Varsler")
    assert "Målinger per minutt" in page.locator(".figures").inner_text()

    page.select_option("#lang-select", "en")
    page.wait_for_function("document.documentElement.lang === 'en'")
    ready(page)
    assert page.locator("[data-nav=overview]").inner_text() == "Overview"
    assert "Readings per minute" in page.locator(".figures").inner_text()
    page.reload()
    ready(page)
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.locator("#lang-select").input_value() == "en"


def test_times_are_24_hour_in_oslo_and_numbers_norwegian(fleet: Fleet, page: Any) -> None:
    page.goto(f"{fleet.url}/#/device/{MONITOR}")
    page.locator("[data-chart=no2] canvas").wait_for()
    assert "Europe/Oslo" in page.locator("#time-zone").inner_text()
    device = fleet.get(f"/api/v1/devices/{MONITOR}")
    latest = {m["name"]: m["latest"] for m in device["metrics"]}
    shown = page.locator("[data-metric=no2] small").inner_text()
    # the tile's time: dd.mm.yyyy, HH:MM:SS in Oslo, whatever zone the browser is in
    match = re.fullmatch(r"(\d{2})\.(\d{2})\.(\d{4}), (\d{2}):(\d{2}):(\d{2})", shown)
    assert match, shown
    day, month, year, hour, minute, second = (int(g) for g in match.groups())
    shown_at = datetime(year, month, day, hour, minute, second, tzinfo=OSLO)
    stored_at = datetime.fromisoformat(latest["no2"]["time"])
    # Oslo is an hour or two off UTC: a clock in UTC (or the browser's zone) fails
    assert abs((shown_at - stored_at).total_seconds()) < 600, (shown, latest["no2"]["time"])
    # the chart's time axis: 24-hour labels, never am/pm
    page.wait_for_function("document.querySelector('[data-chart=no2]').dataset.ticks")
    ticks = page.locator("[data-chart=no2]").get_attribute("data-ticks") or ""
    assert ticks and all(re.fullmatch(r"\d{2}:\d{2}", t) for t in ticks.split("|")), ticks

    # Norwegian numbers: a decimal comma (and the minus sign U+2212)
    def shown_and_stored() -> tuple[str, float]:
        text = page.locator("[data-metric=temperature] .value").inner_text()
        value = fleet.get(f"/api/v1/devices/{MONITOR}")
        stored = {m["name"]: m["latest"] for m in value["metrics"]}["temperature"]["value"]
        return text, stored

    for _ in range(30):  # a live reading may land between the two looks
        text, stored = shown_and_stored()
        if text == _norwegian(stored):
            break
        page.wait_for_timeout(500)
    assert text == _norwegian(stored), (text, stored)
    # metric names and units from the profile, in Norwegian
    assert page.locator("[data-metric=temperature] .name").inner_text() == "Temperatur"
    assert page.locator("[data-metric=temperature] .unit").inner_text().strip() == "°C"
    assert page.locator("[data-metric=humidity] .unit").inner_text().strip() == "% RF"


def test_a_lamp_page_reads_as_words_and_its_charts_stay_in_range(fleet: Fleet, page: Any) -> None:
    page.goto(f"{fleet.url}/#/device/{LAMP}")
    page.locator("[data-chart=dim_level] canvas").wait_for()
    # a boolean reads On/Off in words, without the unit "1" beside it
    assert page.locator("[data-metric=lamp_on] .value").inner_text() in {"På", "Av"}
    assert page.locator("[data-metric=lamp_on] .unit").count() == 0
    assert page.locator("[data-metric=lamp_on] .name").inner_text() == "Lampe tent"
    # the dim level never runs past what a lamp can do (0-100 %)
    page.wait_for_function("document.querySelector('[data-chart=dim_level]').dataset.ymax")
    assert float(page.locator("[data-chart=dim_level]").get_attribute("data-ymax") or 0) <= 100
    # energy labels fit their axis: the widest label measured in the axis font
    page.wait_for_function("document.querySelector('[data-chart=energy]').dataset.yticks")
    widest = page.evaluate(
        """() => {
          const box = document.querySelector('[data-chart=energy]');
          const ctx = document.createElement('canvas').getContext('2d');
          ctx.font = '12px system-ui, sans-serif';
          return Math.max(...box.dataset.yticks.split('|').map((l) => ctx.measureText(l).width));
        }"""
    )
    axis = float(page.locator("[data-chart=energy]").get_attribute("data-yaxis") or 0)
    assert axis >= widest + 15, f"axis {axis} px for labels {widest} px wide"


def test_long_ranges_show_the_whole_period_not_the_data(fleet: Fleet, page: Any) -> None:
    page.goto(f"{fleet.url}/#/device/{MONITOR}")
    page.locator("[data-chart=no2] canvas").wait_for()
    for button, days in (("7d", 7), ("30d", 30)):
        page.click(f"[data-range='{button}']")
        page.wait_for_function(
            f"document.querySelector('[data-range=\"{button}\"]').getAttribute('aria-pressed')"
            " === 'true'"
        )
        page.wait_for_function(
            f"""() => {{ const b = document.querySelector('[data-chart=no2]').dataset;
                return Math.abs((b.xmax - b.xmin) - {days * 86400}) < 600; }}"""
        )
        ticks = page.locator("[data-chart=no2]").get_attribute("data-ticks") or ""
        assert all(re.fullmatch(r"\d{1,2}\.\d{1,2}\.?", t) for t in ticks.split("|")), ticks
