"""The dashboard: static pages served by the hub at ``/``.

Our own files (``index.html``, ``static/*.js|css``, the message catalogues in
``static/i18n/``) sit in this folder; Leaflet, its marker clustering and uPlot come
from npm (``package-lock.json``) into ``node_modules/`` and are served under
``/vendor/``, so nothing is fetched from the internet at run time. Without
``node_modules`` the hub still starts, and ``/`` says how to install the assets.
The districts drawn on the map come from the GeoJSON file ``HUB_MAP_DISTRICTS``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from hub.config import Settings

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE / "node_modules"
# What /vendor/<name>/ serves: only the browser builds, never the whole package.
VENDOR = {
    "leaflet": NODE_MODULES / "leaflet" / "dist",
    "leaflet.markercluster": NODE_MODULES / "leaflet.markercluster" / "dist",
    "uplot": NODE_MODULES / "uplot" / "dist",
}
# The files the pages load; all present means the assets are installed.
VENDOR_FILES = (
    VENDOR["leaflet"] / "leaflet.js",
    VENDOR["leaflet"] / "leaflet.css",
    VENDOR["leaflet.markercluster"] / "leaflet.markercluster.js",
    VENDOR["leaflet.markercluster"] / "MarkerCluster.css",
    VENDOR["uplot"] / "uPlot.iife.min.js",
    VENDOR["uplot"] / "uPlot.min.css",
)
NOT_INSTALLED = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sensor hub: dashboard not installed</title>
<style>body{font:18px/1.5 system-ui,sans-serif;max-width:44em;margin:4em auto;padding:0 1em}
code{background:#eee;padding:.1em .3em}</style></head>
<body><h1>The dashboard assets are not installed</h1>
<p>The hub and its API run (<a href="/docs">API documentation</a>), but the dashboard's
browser libraries (Leaflet, uPlot) are missing from <code>hub/dashboard/node_modules</code>.</p>
<p>Install them with <code>make run</code>, or <code>npm ci --prefix hub/dashboard</code>,
then reload this page.</p></body></html>
"""

router = APIRouter(include_in_schema=False)


def assets_installed() -> bool:
    return all(path.is_file() for path in VENDOR_FILES)


@router.get("/")
async def index() -> Any:
    if not assets_installed():
        return HTMLResponse(NOT_INSTALLED, status_code=503, headers={"Cache-Control": "no-store"})
    return FileResponse(HERE / "index.html", headers={"Cache-Control": "no-cache"})


@router.get("/public")
async def public_page() -> FileResponse:
    """The page for residents (hub.api.public): no key, no vendor libraries."""
    return FileResponse(HERE / "public.html", headers={"Cache-Control": "no-cache"})


@router.get("/dashboard/config.json")
async def dashboard_config(request: Request) -> JSONResponse:
    """What the pages need to know about this hub (nothing secret)."""
    settings: Settings = request.app.state.settings
    return JSONResponse(
        {
            "tile_url": settings.map_tile_url or None,
            "tile_attribution": settings.map_tile_attribution,
            "districts": settings.map_districts is not None,
            "open_data": settings.open_data,
            "timezone": settings.timezone,
            "assets_installed": assets_installed(),
        },
        headers={"Cache-Control": "no-store"},
    )


@router.get("/dashboard/districts.geojson")
async def districts(request: Request) -> FileResponse:
    """The operator's districts (``HUB_MAP_DISTRICTS``) for the map; 404 when unset."""
    settings: Settings = request.app.state.settings
    if settings.map_districts is None or not settings.map_districts.is_file():
        raise HTTPException(404, "no districts file (HUB_MAP_DISTRICTS)")
    return FileResponse(
        settings.map_districts,
        media_type="application/geo+json",
        headers={"Cache-Control": "no-cache"},
    )


@router.get("/vendor/{package}/{path:path}")
async def vendor_file(package: str, path: str) -> FileResponse:
    """A file of a vendor's browser build (404 when not installed, so the hub runs
    without node_modules)."""
    folder = VENDOR.get(package)
    if folder is None:
        raise HTTPException(404)
    file = (folder / path).resolve()
    if not file.is_relative_to(folder.resolve()) or not file.is_file():
        raise HTTPException(404)
    return FileResponse(file, headers={"Cache-Control": "public, max-age=3600"})


def install(app: FastAPI) -> None:
    """Serve the dashboard from ``app``: the page, our scripts and the vendor builds."""
    app.include_router(router)
    app.mount("/dashboard", StaticFiles(directory=HERE / "static"), name="dashboard")
