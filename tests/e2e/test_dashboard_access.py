"""Accessibility: every page passes axe-core's WCAG 2.1 A and AA rules with zero
violations, in Norwegian and in English; the inbox works by keyboard alone; a
state is never told by colour alone.

The per-page result is printed (run with -s) and recorded in docs/dashboard.md.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.conftest import STAYS_OPEN, Fleet, audit, ready, save_key

PAGES = {
    "overview": ("#/", ".device-marker, .cluster"),
    "device": ("#/device/aq-0001", "[data-chart=no2] canvas"),
    "inbox": ("#/alerts", "#inbox-summary"),
    "alert": (None, "#alert-facts"),
    "health": ("#/health", "#health tbody tr"),
    "near": ("#/near", "#near-note"),
    "air": ("#/air", "#air .air-card"),
}


def _alert_route(fleet: Fleet) -> str:
    alerts = fleet.get("/api/v1/alerts", limit=1)["items"]
    assert alerts, "no alert yet"
    return f"#/alert/{alerts[0]['id']}"


@pytest.mark.parametrize("lang", ["nb", "en"])
@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_passes_the_wcag_21_aa_audit(
    fleet: Fleet, page: Any, name: str, lang: str
) -> None:
    route, ready_selector = PAGES[name]
    page.evaluate("lang => localStorage.setItem('hub.lang', lang)", lang)
    save_key(page, fleet.operator_key)  # operator view: every control shown
    page.goto(f"{fleet.url}/{route or _alert_route(fleet)}")
    ready(page)
    assert page.evaluate("document.documentElement.lang") == lang
    page.locator(ready_selector).first.wait_for()
    page.wait_for_timeout(300)  # let the live indicator and tooltips settle
    violations = audit(page)
    print(f"axe {name} [{lang}]: {len(violations)} violations")
    assert violations == [], violations


def test_keyboard_alone_saves_a_key_and_acknowledges_an_alert(fleet: Fleet, page: Any) -> None:
    page.goto(f"{fleet.url}/#/alerts")
    ready(page)
    # the second burst meter's alert: no other test resolves it
    page.locator(f"#inbox li.state-open[data-device='{STAYS_OPEN}']").wait_for(timeout=45000)

    def tab_to(selector: str, most: int = 120) -> None:
        for _ in range(most):
            page.keyboard.press("Tab")
            if page.evaluate("s => document.activeElement?.matches(s)", selector):
                return
        raise AssertionError(f"{selector} not reached by Tab")

    tab_to("#key-input")
    page.keyboard.type(fleet.operator_key)
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('key-state').textContent === 'Nøkkel lagret'")
    ready(page)
    row = page.locator(f"#inbox li.state-open[data-device='{STAYS_OPEN}']")
    alert_id = row.get_attribute("data-alert-id")
    tab_to(f"#inbox li[data-alert-id='{alert_id}'] button.ack")
    # the focused control is visibly marked
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    page.keyboard.press("Enter")
    page.wait_for_function(
        f"document.querySelector(\"#inbox li[data-alert-id='{alert_id}']\")?.dataset.state"
        " === 'acknowledged'"
    )
    stored = httpx.get(f"{fleet.url}/api/v1/alerts/{alert_id}", timeout=5).json()
    assert stored["state"] == "acknowledged"
    # the keyboard stays on the row, not thrown back to the top of the page
    assert page.evaluate(f"!!document.activeElement.closest(\"li[data-alert-id='{alert_id}']\")")


def test_states_carry_a_shape_and_a_word_besides_colour(fleet: Fleet, page: Any) -> None:
    page.goto(f"{fleet.url}/#/")
    ready(page)
    legend = page.locator(".legend .badge")
    assert legend.count() == 4
    for i in range(4):
        badge = legend.nth(i)
        shape = badge.locator(".shape").inner_text()
        word = badge.inner_text().replace(shape, "").strip()
        assert shape in "●▲■◆" and len(word) >= 2
    shapes = page.eval_on_selector_all(".device-marker", "ms => ms.map((m) => m.textContent)")
    assert shapes and all(s in "●▲■◆" for s in shapes)
