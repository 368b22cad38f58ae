"""The map: the operator's districts without tiles, tiles with the provider's
attribution, clustering, and placing a device without coordinates by dragging it
onto the map."""

from __future__ import annotations

import http.server
import os
import socket
import tempfile
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from struct import pack
from typing import Any

import httpx
import orjson
import pytest

from tests.e2e.conftest import Fleet, checked_tab, ready, save_key
from tests.integration.helpers import HubProcess

OSM_ATTRIBUTION = (
    '© <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a>-bidragsytere'
)


def test_districts_are_drawn_with_their_names_without_tiles(fleet: Fleet, page: Any) -> None:
    page.goto(f"{fleet.url}/#/")
    ready(page)
    districts = orjson.loads(httpx.get(f"{fleet.url}/dashboard/districts.geojson").content)
    names = {f["properties"]["name"] for f in districts["features"]}
    assert "Sentrum" in names and len(names) == 10
    page.wait_for_function(f"document.querySelector('#map').dataset.districts === '{len(names)}'")
    labels = set(page.locator(".district-label").all_inner_texts())
    assert labels == names
    assert page.locator("#map path.leaflet-interactive").count() >= len(names)
    assert page.locator(".leaflet-tile").count() == 0  # nothing asked of the internet


def test_dense_devices_are_clustered_and_counted(fleet: Fleet, page: Any) -> None:
    page.goto(f"{fleet.url}/#/")
    page.wait_for_function(
        f"document.querySelector('#map')?.dataset.markers === '{len(fleet.devices)}'"
    )
    clusters = page.locator(".cluster")
    assert clusters.count() >= 1
    assert page.locator(".device-marker").count() < len(fleet.devices)
    # a cluster reads its count and the shape of its worst state, not colour alone
    text = clusters.first.inner_text()
    assert any(shape in text for shape in "●▲■◆") and any(c.isdigit() for c in text)


def _png() -> bytes:
    """A 256x256 light-grey tile, written by hand (no image library needed)."""
    row = b"\x00" + b"\xd0\xd0\xd0" * 256
    raw = zlib.compress(row * 256)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return pack(">I", len(data)) + kind + data + pack(">I", zlib.crc32(kind + data))

    header = pack(">IIBBBBB", 256, 256, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


@pytest.fixture
def tile_server() -> Iterator[tuple[str, list[str]]]:
    """A real HTTP tile server on a free port that records what it was asked for."""
    asked: list[str] = []
    tile = _png()

    class Tiles(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(tile)))
            self.end_headers()
            self.wfile.write(tile)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Tiles)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{{z}}/{{x}}/{{y}}.png", asked
    server.shutdown()
    server.server_close()


def test_tiles_are_drawn_with_the_providers_attribution(
    fleet: Fleet, browser_context: Any, tile_server: tuple[str, list[str]]
) -> None:
    template, asked = tile_server
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    logs = Path(tempfile.mkdtemp(prefix="hub-e2e-tiles-"))
    settings = fleet.settings.model_copy(
        update={"api_port": port, "mqtt_client_id": f"hub-e2e-tiles-{os.getpid()}",
                "topic_prefix": f"tiles{os.getpid()}"}
    )  # fmt: skip
    hub = HubProcess(
        settings, logs, HUB_OPEN_DATA="true", HUB_MAP_TILE_URL=template,
        HUB_MAP_TILE_ATTRIBUTION=OSM_ATTRIBUTION,
    ).start()  # fmt: skip
    try:
        hub.wait_ready()
        url = f"http://127.0.0.1:{hub.port}"
        with checked_tab(browser_context, url) as tab:
            tab.goto(f"{url}/#/")
            ready(tab)
            tab.locator(".leaflet-tile-loaded").first.wait_for()
            credit = tab.locator(".leaflet-control-attribution")
            assert "OpenStreetMap" in credit.inner_text()
            link = credit.locator("a[href='https://www.openstreetmap.org/copyright']")
            assert link.count() == 1
        assert any(path.endswith(".png") for path in asked)
    finally:
        hub.stop()


def test_a_device_without_coordinates_is_placed_by_dragging(fleet: Fleet, page: Any) -> None:
    device_id = "sl-9001"
    auth = {"Authorization": f"Bearer {fleet.operator_key}"}
    created = httpx.post(
        f"{fleet.url}/api/v1/devices",
        headers=auth,
        json={"device_id": device_id, "profile": "street_light", "district": "Sentrum"},
        timeout=5,
    )
    assert created.status_code == 201, created.text
    assert created.json()["location"] is None
    try:
        save_key(page, fleet.operator_key)
        page.goto(f"{fleet.url}/#/")
        ready(page)
        item = page.locator(f"#unplaced li[data-unplaced='{device_id}']")
        item.wait_for()
        box = page.locator("#map").bounding_box()
        assert box is not None
        item.drag_to(
            page.locator("#map"), target_position={"x": box["width"] / 2, "y": box["height"] / 2}
        )
        page.wait_for_function(
            f"!document.querySelector(\"#unplaced li[data-unplaced='{device_id}']\")"
        )
        placed = fleet.get(f"/api/v1/devices/{device_id}")["location"]
        assert placed is not None
        # dropped in the middle of the town's map
        assert 60.6 < placed["lat"] < 61.0 and 10.8 < placed["lon"] < 11.4, placed
    finally:
        httpx.post(f"{fleet.url}/api/v1/devices/{device_id}/decommission", headers=auth, timeout=5)


def test_placing_without_an_operator_key_says_what_is_needed(fleet: Fleet, page: Any) -> None:
    device_id = "sl-9002"
    auth = {"Authorization": f"Bearer {fleet.operator_key}"}
    httpx.post(
        f"{fleet.url}/api/v1/devices", headers=auth,
        json={"device_id": device_id, "profile": "street_light"}, timeout=5,
    )  # fmt: skip
    try:
        page.goto(f"{fleet.url}/#/")
        ready(page)
        page.locator(f"#unplaced li[data-unplaced='{device_id}'] button.place").click()
        assert "operatørnøkkel" in page.locator("#banner").inner_text()
        assert fleet.get(f"/api/v1/devices/{device_id}")["location"] is None
    finally:
        httpx.post(f"{fleet.url}/api/v1/devices/{device_id}/decommission", headers=auth, timeout=5)
