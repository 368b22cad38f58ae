"""The overview's figures and the fleet health view: readings per minute never a
made-up 0, dead letters that say they need an operator key instead of showing
the words as a value, and the fleet sorted worst first by last-seen age, battery
and radio link quality."""

from __future__ import annotations

import time
from typing import Any

import orjson
from paho.mqtt import publish

from hub.config import mqtt_endpoint
from tests.e2e.conftest import Fleet, ready, save_key


def test_readings_per_minute_is_measured_never_a_false_zero(fleet: Fleet, page: Any) -> None:
    page.goto(f"{fleet.url}/#/")
    ready(page)
    seen: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = page.locator("[data-figure=rate]").inner_text()
        seen.append(text)
        if text not in {"…", "–"}:
            break
        page.wait_for_timeout(250)
    # the fleet reports every 5 s: while it measures the tile says so, then a rate
    assert "0" not in seen, seen
    assert seen[-1] not in {"…", "–"}, seen
    assert int(seen[-1].replace("\u00a0", "").replace(" ", "")) > 0
    assert "siste" in page.locator("#rate-note").inner_text()


def test_dead_letters_say_they_need_an_operator_key(fleet: Fleet, page: Any) -> None:
    page.goto(f"{fleet.url}/#/")
    ready(page)
    page.wait_for_function("document.querySelector('[data-figure=dead]').textContent !== '…'")
    assert page.locator("[data-figure=dead]").inner_text() == "–"
    assert page.locator("#dead-note").inner_text() == "Vises med operatørnøkkel"
    save_key(page, fleet.operator_key)
    page.reload()
    ready(page)
    page.wait_for_function(
        "/^\\d+\\+?$/.test(document.querySelector('[data-figure=dead]').textContent)"
    )
    assert page.locator("#dead-note").inner_text() == ""


def _column(page: Any, index: int) -> list[str]:
    return page.eval_on_selector_all(
        f"#health tbody tr > :nth-child({index})", "cells => cells.map((c) => c.textContent)"
    )


def test_fleet_health_sorts_worst_first(fleet: Fleet, page: Any) -> None:
    page.goto(f"{fleet.url}/#/health")
    ready(page)
    page.locator("#health tbody tr").first.wait_for()
    assert page.locator("#health tbody tr").count() >= len(fleet.devices)
    # by last-seen age, the oldest first (the default)
    ages = [
        int(a)
        for a in page.eval_on_selector_all(
            "#health td[data-age]", "cs => cs.map((c) => c.dataset.age)"
        )
    ]
    assert ages == sorted(ages, reverse=True)
    # by battery: the lowest first, devices without a battery last
    page.click("button[data-sort=battery]")
    batteries = [c for c in _column(page, 5)]
    with_value = [float(b.split()[0].replace(",", ".")) for b in batteries if b != "–"]
    assert with_value, batteries
    assert with_value == sorted(with_value)
    assert batteries[: len(with_value)] == [b for b in batteries if b != "–"]
    assert page.locator("th[aria-sort=ascending] button[data-sort=battery]").count() == 1
    # again: the other way round
    page.click("button[data-sort=battery]")
    again = [float(b.split()[0].replace(",", ".")) for b in _column(page, 5) if b != "–"]
    assert again == sorted(again, reverse=True)
    # the radio link columns are there for the LoRaWAN figures (RSSI, SNR)
    headers = page.locator("#health thead").inner_text()
    assert "RSSI" in headers and "SNR" in headers


def test_fleet_health_shows_the_radio_link_weakest_first(fleet: Fleet, page: Any) -> None:
    """A LoRaWAN meter's link figures (as the network-server integration stores
    them: lora_rssi, lora_snr) are shown and sort the weakest first."""
    device = "wm-9200"
    payload = orjson.dumps(
        {"ts": int(time.time() * 1000), "flow": 0.0, "battery": 12,
         "lora_rssi": -121.0, "lora_snr": -14.5}
    )  # fmt: skip
    host, port, *_ = mqtt_endpoint(fleet.settings.mqtt_url)
    publish.single(
        f"{fleet.settings.topic_prefix}/water_meter/{device}/telemetry",
        payload,
        qos=1,
        hostname=host,
        port=port,
    )
    page.goto(f"{fleet.url}/#/health")
    ready(page)
    row = page.locator(f"#health tr[data-device='{device}']")
    row.wait_for()
    page.click("button[data-sort=rssi]")
    cells = row.locator("td").all_inner_texts()
    assert "\u2212121 dBm" in cells and "\u221214,5 dB" in cells, cells
    # the weakest signal first, devices without radio figures last
    rssi = [c for c in _column(page, 6)]
    values = [
        float(c.split()[0].replace("\u2212", "-").replace(",", ".")) for c in rssi if c != "–"
    ]
    assert values == sorted(values) and -121.0 in values
    assert rssi[: len(values)] == [c for c in rssi if c != "–"]
