"""The hub without the dashboard's npm packages: it starts, and the page says why
there is no dashboard (no browser needed)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

import hub.dashboard
from hub.api.app import create_app
from hub.config import load_settings


def test_page_says_assets_are_missing_when_node_modules_is_absent(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "node_modules"
    monkeypatch.setattr(hub.dashboard, "VENDOR", {"leaflet": missing / "leaflet" / "dist"})
    monkeypatch.setattr(
        hub.dashboard, "VENDOR_FILES", (missing / "leaflet" / "dist" / "leaflet.js",)
    )
    app = create_app(load_settings(map_tile_url="http://tiles.invalid/{z}/{x}/{y}.png"))
    # in a thread of its own: the session's Playwright owns this thread's event loop
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _check_pages(app)).result(timeout=30)


async def _check_pages(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
        page = await client.get("/")
        assert page.status_code == 503
        assert "dashboard assets are not installed" in page.text
        assert "make run" in page.text
        config = (await client.get("/dashboard/config.json")).json()
        assert config["assets_installed"] is False
        assert config["tile_url"] == "http://tiles.invalid/{z}/{x}/{y}.png"
        assert (await client.get("/vendor/leaflet/leaflet.js")).status_code == 404
        assert (await client.get("/dashboard/app.js")).status_code == 200
