"""The simulated town's districts as GeoJSON: one closed, counter-clockwise polygon
per district with its name, holding every device placed in it."""

from __future__ import annotations

from itertools import pairwise

from hub.profiles import load_profiles
from simulators.districts import districts_geojson
from simulators.fleet import build_fleet
from simulators.town import build_town
from tests.repo import REPO


def _inside(lon: float, lat: float, ring: list[list[float]]) -> bool:
    """Ray casting (the even-odd rule)."""
    inside = False
    for (x1, y1), (x2, y2) in pairwise(ring):
        if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def _signed_area(ring: list[list[float]]) -> float:
    return sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in pairwise(ring)) / 2


def test_every_district_is_a_closed_named_polygon_holding_its_devices() -> None:
    fleet = build_fleet(load_profiles(REPO / "device_profiles"), 60, seed=1)
    collection = districts_geojson([(d.lat, d.lon, d.district) for d in fleet], seed=1)
    assert collection["type"] == "FeatureCollection"
    names = [f["properties"]["name"] for f in collection["features"]]
    assert names == [d.name for d in build_town(seed=1).districts]
    for feature in collection["features"]:
        assert feature["geometry"]["type"] == "Polygon"
        ring = feature["geometry"]["coordinates"][0]
        assert ring[0] == ring[-1] and len(ring) > 10
        assert _signed_area(ring) > 0  # RFC 7946: exterior rings counter-clockwise
        for d in fleet:
            if d.district == feature["properties"]["name"]:
                assert _inside(d.lon, d.lat, ring), (d.device_id, d.district)
