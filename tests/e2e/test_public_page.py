"""The public page (/public) in headless Chromium, over a small town of its own: a
hub in open-data mode (the page needs no key), two districts of
air monitors, street lights with faults in each work state, and household water
meters: six in Sentrum (shown), three in Nordbyen (fewer than HUB_PRIVACY_MIN_GROUP:
hidden, and the page says so).

Every response the page loads is recorded; none may hold a personal device's id,
coordinate or raw reading."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import paho.mqtt.publish as publish
import pytest

from hub.commands.apikeys import create as create_key
from hub.config import Settings, mqtt_endpoint
from hub.devstack import Devstack
from hub.store.db import connect
from hub.store.migrate import migrate
from tests.e2e.conftest import PHONE, audit, checked_tab, phone_context
from tests.integration.api_helpers import open_alert
from tests.integration.helpers import HubProcess, wait_for
from tests.stack import stack_settings

PROFILES = Path(__file__).resolve().parents[2] / "device_profiles"
METERS = {"Sentrum": 6, "Nordbyen": 3}
MONITORS = {"aq-s1": ("Sentrum", 150.0), "aq-n1": ("Nordbyen", 20.0)}  # NO2: moderate, low
LAMPS = {"sl-s1": "Sentrum", "sl-s2": "Sentrum", "sl-s3": "Sentrum", "sl-n1": "Nordbyen"}
SMALL_TARGETS = """() => [...document.querySelectorAll(
    'a[href], button, select, input, summary, [tabindex="0"]')]
  .filter((e) => e.offsetParent !== null && !e.classList.contains('skip'))
  .map((e) => [e, e.getBoundingClientRect()])
  .filter(([e, r]) => r.width < 44 || r.height < 44)
  .map(([e, r]) => `${e.tagName.toLowerCase()} "${(e.textContent || '').trim().slice(0, 30)}" ${Math.round(r.width)}x${Math.round(r.height)}`)"""


class Town:
    def __init__(self, url: str, settings: Settings) -> None:
        self.url = url
        self.settings = settings

    def personal(self) -> tuple[set[str], set[float], set[float]]:
        """Ids, coordinates and raw reading values of every personal device."""
        with connect(self.settings.database_url, "test") as conn:
            devices = conn.execute(
                "SELECT device_id, lat, lon FROM devices WHERE data_class = 'personal'"
            ).fetchall()
            values = conn.execute(
                "SELECT DISTINCT r.value FROM readings r JOIN series s ON s.id = r.series_id "
                "JOIN devices d ON d.id = s.device WHERE d.data_class = 'personal'"
            ).fetchall()
        ids = {d for d, _, _ in devices}
        places = {x for _, lat, lon in devices for x in (lat, lon) if x is not None}
        return ids, places, {v for (v,) in values}


def _meter_payload(n: int, i: int, ts: datetime) -> bytes:
    # distinctive values: a raw reading showing up anywhere would be seen
    return orjson.dumps(
        {
            "ts": ts.isoformat(),
            "volume": 1000 + n * 111.1111 + i * 0.0137,
            "flow": 21.0042 + n * 0.731 + i % 7 * 0.173,
        }
    )


def _publish(settings: Settings, messages: list[tuple[str, bytes]]) -> None:
    host, port, _, _, _ = mqtt_endpoint(settings.mqtt_url)
    batch = [{"topic": t, "payload": p, "qos": 1} for t, p in messages]
    for i in range(0, len(batch), 500):
        publish.multiple(batch[i : i + 500], hostname=host, port=port)


def _stored(settings: Settings) -> int:
    with connect(settings.database_url, "test") as conn:
        row = conn.execute("SELECT count(*) FROM readings").fetchone()
    return int(row[0]) if row else 0


def _open_alerts(settings: Settings, rule_id: int) -> dict[str, int]:
    return {
        lamp: open_alert(
            settings.database_url,
            rule_id,
            lamp,
            severity="warning",
            message=f"{lamp} draws too much power",
            value=350.0,
            details={"above": 300},
        ).id
        for lamp in ("sl-s1", "sl-s2", "sl-n1")
    }


@pytest.fixture(scope="module")
def town(stack: Devstack, browser: Any) -> Iterator[Town]:
    logs = Path(tempfile.mkdtemp(prefix="hub-public-"))
    settings = stack_settings(
        stack,
        stack.postgres.create_database(f"public_{os.getpid()}"),
        topic_prefix=f"pub{os.getpid()}",
        client_id=f"hub-public-{os.getpid()}",
        profiles_dir=PROFILES,
    )
    with connect(settings.database_url, "test") as conn:
        migrate(conn)
    hub = HubProcess(settings, logs, HUB_OPEN_DATA="true", HUB_ALERTS_ENABLED="false").start()
    stack_of_clients = contextlib.ExitStack()
    try:
        hub.wait_ready()
        url = f"http://127.0.0.1:{hub.port}"
        key = create_key(settings, role="operator", name="public e2e", out=io.StringIO())
        client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=10)
        stack_of_clients.callback(client.close)
        meters = [
            (f"wm-{district[:1].lower()}{n}", district)
            for district, count in METERS.items()
            for n in range(count)
        ]
        devices = [
            *((m, "water_meter", d) for m, d in meters),
            *((a, "air_quality", d) for a, (d, _) in MONITORS.items()),
            *((lamp, "street_light", d) for lamp, d in LAMPS.items()),
        ]
        for n, (device, profile, district) in enumerate(devices):
            r = client.post(
                "/api/v1/devices",
                json={
                    "device_id": device,
                    "profile": profile,
                    "district": district,
                    "lat": 60.791234 + n * 0.000321,
                    "lon": 11.071234 + n * 0.000123,
                },
            )
            assert r.status_code == 201, r.text
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        start = now - timedelta(hours=30)
        messages: list[tuple[str, bytes]] = []
        for n, (meter, _) in enumerate(meters):
            for i in range(0, 30 * 4 + 1):
                ts = start + i * timedelta(minutes=15)
                topic = f"{settings.topic_prefix}/water_meter/{meter}/telemetry"
                messages.append((topic, _meter_payload(n, i, ts)))
        for monitor, (_, no2) in MONITORS.items():
            for i in range(0, 30 * 6 + 1):
                ts = start + i * timedelta(minutes=10)
                body = {"ts": ts.isoformat(), "no2": no2, "pm10": 12.0, "pm25": 6.0}
                messages.append(
                    (f"{settings.topic_prefix}/air_quality/{monitor}/telemetry", orjson.dumps(body))
                )
        _publish(settings, messages)
        expected = len(meters) * (30 * 4 + 1) * 2 + len(MONITORS) * (30 * 6 + 1) * 3
        wait_for(lambda: _stored(settings) >= expected, 60, f"{expected} readings stored")
        rule = client.post(
            "/api/v1/rules",
            json={
                "name": "too much power",
                "kind": "threshold",
                "profile": "street_light",
                "metric": "power",
                "parameters": {"above": 300},
                "severity": "warning",
            },
        )
        assert rule.status_code == 201, rule.text
        alerts = _open_alerts(settings, rule.json()["id"])
        # sl-s1 acknowledged, sl-n1 assigned to a crew: both being worked on; sl-s2 only reported
        assert client.post(f"/api/v1/alerts/{alerts['sl-s1']}/acknowledge").status_code == 200
        assign = client.post(f"/api/v1/alerts/{alerts['sl-n1']}/assign", json={"assignee": "Lys 2"})
        assert assign.status_code == 200, assign.text
        yield Town(url, settings)
    finally:
        stack_of_clients.close()
        hub.stop()


def _record(tab: Any) -> list[Any]:
    responses: list[Any] = []
    tab.on("response", lambda response: responses.append(response))
    return responses


def _open(tab: Any, town: Town) -> None:
    tab.goto(f"{town.url}/public")
    tab.wait_for_selector("#main[data-ready]")
    assert tab.get_attribute("#main", "data-failed") is None


def _words(text: str) -> str:
    return " ".join(text.split())


def _numbers(value: Any) -> Iterator[float]:
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        yield float(value)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _numbers(v)
    elif isinstance(value, list):
        for v in value:
            yield from _numbers(v)


def test_the_page_shows_each_district_and_no_response_holds_personal_data(
    browser: Any, town: Town
) -> None:
    context = browser.new_context(
        viewport={"width": 1280, "height": 720}, locale="nb-NO", timezone_id="UTC"
    )
    try:
        with checked_tab(context, town.url) as tab:
            responses = _record(tab)
            _open(tab, town)
            sentrum = _words(tab.locator("#air article[data-district='Sentrum']").inner_text())
            assert "Nå: ▲ Moderat forurenset kl." in sentrum
            assert "Nitrogendioksid (NO₂): 150 µg/m³ (moderat)" in sentrum
            assert "Verst i dag: ▲ Moderat forurenset" in sentrum
            nordbyen = _words(tab.locator("#air article[data-district='Nordbyen']").inner_text())
            assert "Nå: ● Lite forurenset" in nordbyen
            assert "Noen med hjerte- eller lungesykdom" in sentrum  # what the class means
            explain = tab.locator("#air-classes").text_content() or ""
            assert (
                "Liten eller ingen helserisiko" in explain and "Svært høy forurensning" in explain
            )
            lights = tab.locator("#lights article[data-district='Sentrum'] dd").all_inner_texts()
            assert lights == ["3", "1", "1", "0"]  # lamps, reported, being worked on, fixed today
            nord = tab.locator("#lights article[data-district='Nordbyen'] dd").all_inner_texts()
            assert nord == ["1", "0", "1", "0"]
            shown = tab.locator(
                "#water article[data-district='Sentrum'] tr[data-suppressed=false] td"
            )
            today = shown.last.inner_text()
            assert re.fullmatch(r"[\d ]+(,\d)? m³ \(6 målere\)", today), today
            hidden = tab.locator("#water article[data-district='Nordbyen'] td.hidden")
            assert hidden.count() >= 2 and hidden.first.inner_text() == "Skjult: færre enn 5 målere"
            assert "minst 5 husstander" in tab.locator("#water-intro").inner_text()
            bodies = [(r.url, r.body()) for r in responses if r.status == 200]
    finally:
        context.close()

    loaded = {b[0].removeprefix(town.url).split("?")[0] for b in bodies}
    assert {"/public", "/api/v1/public/air-quality", "/api/v1/public/street-lights",
            "/api/v1/public/water"} <= loaded  # fmt: skip
    ids, places, values = town.personal()
    assert ids and places and values
    for url, body in bodies:
        text = body.decode("utf-8", errors="replace")
        for device in ids:
            assert device not in text, (url, device)
        for place in places:
            assert repr(place) not in text and f"{place:.4f}" not in text, (url, place)
        if url.split("?")[0].endswith((".json", "/air-quality", "/street-lights", "/water")):
            numbers = set(_numbers(json.loads(body)))
            assert not numbers & values, (url, sorted(numbers & values)[:5])


def test_the_page_passes_the_wcag_audit_in_both_languages(browser: Any, town: Town) -> None:
    context = browser.new_context(
        viewport={"width": 1280, "height": 720}, locale="nb-NO", timezone_id="UTC"
    )
    try:
        with checked_tab(context, town.url) as tab:
            _open(tab, town)
            assert tab.evaluate("document.documentElement.lang") == "nb"
            violations = audit(tab)
            print(f"axe /public nb: {len(violations)} violations")
            assert violations == [], violations
            tab.select_option("#lang-select", "en")
            tab.wait_for_function("document.documentElement.lang === 'en'")
            tab.wait_for_selector("#main[data-ready]")
            assert tab.locator("h1").inner_text() == "Air, lights and water in town"
            assert "Hidden: fewer than 5 meters" in tab.locator("#water").inner_text()
            tab.locator("#air details summary").first.click()  # the hours, opened
            tab.locator(".legend-box summary").click()  # what the classes mean, opened
            violations = audit(tab)
            print(f"axe /public en: {len(violations)} violations")
            assert violations == [], violations
    finally:
        context.close()


def test_the_page_fits_a_phone(browser: Any, town: Town) -> None:
    context = phone_context(browser)
    try:
        with checked_tab(context, town.url) as tab:
            _open(tab, town)
            tab.locator("#air details summary").first.click()
            width = tab.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"/public scrolls sideways: {width} px"
            small = tab.evaluate(SMALL_TARGETS)
            assert small == [], f"tap targets under 44 px: {small}"
            violations = audit(tab)
            print(f"axe phone /public: {len(violations)} violations")
            assert violations == [], violations
    finally:
        context.close()
