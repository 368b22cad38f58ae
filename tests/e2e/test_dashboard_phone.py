"""Field crews on a phone (390x844): the alert inbox and a device page without
sideways scrolling and with tap targets of at least 44x44 px, and "near me"
sorted by distance from the phone's position."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import PHONE, Fleet, audit, checked_tab, phone_context, ready

# Every control a thumb may hit, visible on screen, smaller than 44x44 CSS px.
SMALL_TARGETS = """() => [...document.querySelectorAll(
    'a[href], button, select, input, textarea, [role=button], [tabindex="0"]')]
  .filter((e) => e.offsetParent !== null && !e.closest('.leaflet-container') && !e.classList.contains('skip'))
  .map((e) => [e, e.getBoundingClientRect()])
  .filter(([e, r]) => r.width < 44 || r.height < 44)
  .map(([e, r]) => `${e.tagName.toLowerCase()}.${e.className} "${(e.textContent || '').trim().slice(0, 30)}" ${Math.round(r.width)}x${Math.round(r.height)}`)"""


@pytest.fixture(scope="module")
def phone(browser: Any, fleet: Fleet) -> Any:
    here = next(d for d in fleet.devices if d["device_id"] == "wm-0001")["location"]
    context = phone_context(
        browser,
        geolocation={"latitude": here["lat"], "longitude": here["lon"], "accuracy": 10},
        permissions=["geolocation"],
    )
    yield context
    context.close()


@pytest.mark.parametrize("route", ["#/alerts", "#/device/sl-0001", "#/device/aq-0001", "#/"])
def test_phone_pages_fit_the_screen_and_have_large_tap_targets(
    fleet: Fleet, phone: Any, route: str
) -> None:
    with checked_tab(phone, fleet.url) as tab:
        tab.goto(f"{fleet.url}/{route}")
        ready(tab)
        if route.startswith("#/device"):
            tab.locator(".chart canvas").first.wait_for()
        width = tab.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{route} scrolls sideways: {width} px"
        small = tab.evaluate(SMALL_TARGETS)
        assert small == [], f"{route}: tap targets under 44 px: {small}"
        violations = audit(tab)
        print(f"axe phone {route}: {len(violations)} violations")
        assert violations == [], violations


def test_near_me_lists_devices_by_distance_from_the_phone(fleet: Fleet, phone: Any) -> None:
    with checked_tab(phone, fleet.url) as tab:
        tab.goto(f"{fleet.url}/#/near")
        first = tab.locator("#near li").first
        first.wait_for()
        assert first.get_attribute("data-device") == "wm-0001"
        distances = [
            int(x)
            for x in tab.eval_on_selector_all("#near li", "ls => ls.map((l) => l.dataset.distance)")
        ]
        assert distances[0] < 20
        assert distances == sorted(distances) and len(distances) > 10
        assert tab.locator("#near li").first.locator(".dist").inner_text().endswith(" m")
        assert tab.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_near_me_says_so_when_the_position_is_refused(browser: Any, fleet: Fleet) -> None:
    context = phone_context(browser)  # no geolocation permission granted
    try:
        with checked_tab(context, fleet.url) as tab:
            tab.goto(f"{fleet.url}/#/near")
            tab.wait_for_function(
                "document.querySelector('#near-note')?.textContent.includes('Tillat')"
            )
            assert tab.locator("#near li").count() == 0
    finally:
        context.close()
