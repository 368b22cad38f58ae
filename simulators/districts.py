"""The simulated town's districts as GeoJSON polygons, for the dashboard's map.

An operator points ``HUB_MAP_DISTRICTS`` at the municipality's own district file;
the simulated town ships this one (``python -m simulators districts``, and ``make
run`` writes it). Each district is drawn around its centre wide enough to hold the
devices placed in it: in each of ``SIDES`` directions the outline reaches past the
farthest device in that sector, and at least to the district's nominal radius.
Coordinates follow RFC 7946: ``[lon, lat]``, exterior rings counter-clockwise.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from simulators.town import DEFAULT_LAT, DEFAULT_LON, District, Town, build_town

SIDES = 36
MARGIN_M = 120.0  # beyond the farthest device of a sector
SECTOR = 2 * math.pi / SIDES


def _xy(town: Town, lat: float, lon: float) -> tuple[float, float]:
    """The inverse of Town.to_latlon: metres east and north of the centre."""
    y = (lat - town.lat) * 111_320.0
    x = (lon - town.lon) * 111_320.0 * math.cos(math.radians(town.lat))
    return x, y


def _outline(
    town: Town, district: District, points: Sequence[tuple[float, float]]
) -> list[list[float]]:
    reach = [district.radius_m] * SIDES
    for px, py in points:
        dx, dy = px - district.x, py - district.y
        sector = int((math.atan2(dy, dx) % (2 * math.pi)) / SECTOR) % SIDES
        distance = math.hypot(dx, dy) + MARGIN_M
        # a device widens its own sector and, a little less, the two beside it
        for offset, share in ((0, 1.0), (-1, 0.9), (1, 0.9)):
            k = (sector + offset) % SIDES
            reach[k] = max(reach[k], distance * share)
    ring = []
    for k in range(SIDES):  # counter-clockwise: growing angle from east
        angle = (k + 0.5) * SECTOR
        lat, lon = town.to_latlon(
            district.x + reach[k] * math.cos(angle), district.y + reach[k] * math.sin(angle)
        )
        ring.append([lon, lat])
    ring.append(ring[0])
    return ring


def districts_geojson(
    devices: Iterable[tuple[float, float, str]],
    *,
    seed: int = 0,
    lat: float = DEFAULT_LAT,
    lon: float = DEFAULT_LON,
) -> dict[str, Any]:
    """A FeatureCollection of the town's districts drawn from ``seed``, each wide
    enough for the ``(lat, lon, district)`` devices placed in it."""
    town = build_town(lat, lon, seed=seed)
    placed: dict[str, list[tuple[float, float]]] = {d.name: [] for d in town.districts}
    for dlat, dlon, name in devices:
        if name in placed:
            placed[name].append(_xy(town, dlat, dlon))
    features = [
        {
            "type": "Feature",
            "properties": {"name": d.name, "kind": d.kind},
            "geometry": {"type": "Polygon", "coordinates": [_outline(town, d, placed[d.name])]},
        }
        for d in town.districts
    ]
    return {"type": "FeatureCollection", "features": features}


def districts_bytes(
    devices: Iterable[tuple[float, float, str]], *, seed: int, lat: float, lon: float
) -> bytes:
    collection = districts_geojson(devices, seed=seed, lat=lat, lon=lon)
    return orjson.dumps(collection, option=orjson.OPT_INDENT_2)
