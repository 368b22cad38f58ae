"""The dashboard without a key on an open-data hub (docs/privacy.md): of every
response its pages load, none carries a household meter's id, exact place or
raw reading; the public air monitor is there."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from hub.devstack import Devstack
from tests.e2e.conftest import checked_tab, ready
from tests.integration.api_helpers import SHIPPED_PROFILES, ApiHub, start_hub

METER_LAT, METER_LON = 63.431777, 10.391333
FLOWS = [731.0173 + i * 0.0011 for i in range(8)]


@pytest.fixture
def town(stack: Devstack) -> Iterator[ApiHub]:
    hub = start_hub(
        stack,
        Path(tempfile.mkdtemp(prefix="hub-e2e-privacy-")),
        profiles_dir=SHIPPED_PROFILES,
        HUB_OPEN_DATA="true",
    )
    try:
        with hub.client("operator") as client:
            for body in (
                {"device_id": "aq-open", "profile": "air_quality", "district": "Sentrum",
                 "lat": 63.4301, "lon": 10.3951},
                {"device_id": "wm-home", "profile": "water_meter", "district": "Sentrum",
                 "name": "Storgata 7", "lat": METER_LAT, "lon": METER_LON},
            ):  # fmt: skip
                assert client.post("/api/v1/devices", json=body).status_code == 201
        start = datetime.now(UTC) - timedelta(hours=2)
        messages = []
        for i, flow in enumerate(FLOWS):
            ms = int((start + timedelta(minutes=15 * i)).timestamp() * 1000)
            messages.append(
                (hub.topic("aq-open", "air_quality"), orjson.dumps({"ts": ms, "no2": 20}))
            )
            messages.append(
                (hub.topic("wm-home", "water_meter"), orjson.dumps({"ts": ms, "flow": flow}))
            )
        hub.publish(messages)
        hub.wait_stored("wm-home", len(FLOWS))
        hub.wait_stored("aq-open", len(FLOWS))
        yield hub
    finally:
        hub.stop()


def test_no_response_of_the_dashboard_carries_a_household_meter(
    town: ApiHub, browser_context: Any
) -> None:
    finished: list[Any] = []
    with checked_tab(browser_context, town.url) as tab:
        tab.on("requestfinished", lambda request: finished.append(request))
        # Each view, until what it draws from its API calls is on the page.
        for route, drawn in (
            ("#/", "document.querySelector('#map')?.dataset.markers === '1'"),
            (
                "#/device/aq-open",
                "Number(document.querySelector('[data-chart=no2]')?.dataset.points) > 0",
            ),
            ("#/alerts", "document.querySelector('#inbox') !== null"),
            ("#/health", "document.querySelector(\"#health tr[data-device='aq-open']\") !== null"),
        ):
            tab.goto(f"{town.url}/{route}")
            ready(tab)
            tab.wait_for_function(drawn)
        shown = tab.inner_text("body")
        bodies = {}
        for request in finished:
            response = request.response()
            if response is not None and request.url.startswith(town.url):
                bodies[request.url] = response.text()
    api = {url: body for url, body in bodies.items() if "/api/v1/" in url}
    assert any("aq-open" in body for body in api.values()), sorted(api)
    secrets = ["wm-home", "Storgata", repr(METER_LAT), repr(METER_LON), *map(repr, FLOWS)]
    leaks = {url: [s for s in secrets if s in body] for url, body in bodies.items()}
    assert {url: found for url, found in leaks.items() if found} == {}
    assert "wm-home" not in shown and "aq-open" in shown
