"""NGSI-LD geo-queries (ETSI GS CIM 009 clause 4.10): ``georel``, ``geometry``,
``coordinates`` (and ``geoproperty``, default ``location``) against the hub's
entities, whose locations are points (WGS 84, longitude first).

``near;maxDistance==m`` / ``near;minDistance==m`` measure great-circle metres
from a Point; ``within``, ``intersects``, ``disjoint``, ``equals``, ``contains``
and ``overlaps`` compare the entity's point with the given geometry.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any, Final

import orjson

from hub.ngsi.errors import BadRequestData

Entity = dict[str, Any]
Predicate = Callable[[Entity], bool]
Point = tuple[float, float]
Ring = Sequence[Point]

EARTH_RADIUS_M: Final = 6_371_008.8
GEOMETRIES: Final = (
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
)
RELATIONS: Final = ("near", "within", "contains", "intersects", "equals", "disjoint", "overlaps")
_EPSILON_M: Final = 0.01


def distance_m(a: Point, b: Point) -> float:
    """Great-circle distance (haversine) between two (lon, lat) points."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def _in_ring(p: Point, ring: Ring) -> bool:
    x, y = p
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, [*ring[1:], ring[0]], strict=True):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def _on_segment(p: Point, a: Point, b: Point) -> bool:
    # Close enough in metres to the segment, judged on a local flat projection.
    scale = math.cos(math.radians(p[1]))
    ax, ay, bx, by = (a[0] - p[0]) * scale, a[1] - p[1], (b[0] - p[0]) * scale, b[1] - p[1]
    dx, dy = bx - ax, by - ay
    length = dx * dx + dy * dy
    t = 0.0 if length == 0 else max(0.0, min(1.0, -(ax * dx + ay * dy) / length))
    cx, cy = ax + t * dx, ay + t * dy
    return math.hypot(cx, cy) * (math.pi / 180) * EARTH_RADIUS_M <= _EPSILON_M


def _in_polygon(p: Point, rings: Sequence[Ring]) -> bool:
    if not rings or not _in_ring(p, rings[0]):
        return False
    return not any(_in_ring(p, hole) for hole in rings[1:])


def _points(value: Any, depth: int) -> Any:
    """Coordinates as nested tuples, checked to be numbers at the right depth."""
    if depth == 0:
        if (
            not isinstance(value, list)
            or len(value) < 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        ):
            raise BadRequestData("coordinates: a position is [longitude, latitude]")
        lon, lat = float(value[0]), float(value[1])
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise BadRequestData("coordinates: longitude -180..180, latitude -90..90")
        return (lon, lat)
    if not isinstance(value, list) or not value:
        raise BadRequestData("coordinates: do not match the geometry")
    return [_points(v, depth - 1) for v in value]


_DEPTH: Final = {
    "Point": 0,
    "MultiPoint": 1,
    "LineString": 1,
    "MultiLineString": 2,
    "Polygon": 2,
    "MultiPolygon": 3,
}


def _intersects(p: Point, geometry: str, coords: Any) -> bool:
    if geometry == "Point":
        return distance_m(p, coords) <= _EPSILON_M
    if geometry == "MultiPoint":
        return any(distance_m(p, c) <= _EPSILON_M for c in coords)
    if geometry == "LineString":
        return any(_on_segment(p, a, b) for a, b in itertools.pairwise(coords))
    if geometry == "MultiLineString":
        return any(_intersects(p, "LineString", line) for line in coords)
    if geometry == "Polygon":
        return _in_polygon(p, coords) or any(_intersects(p, "LineString", ring) for ring in coords)
    return any(_intersects(p, "Polygon", poly) for poly in coords)


def parse_geo(
    georel: str | None, geometry: str | None, coordinates: str | None, geoproperty: str | None
) -> Predicate | None:
    """A predicate for the geo-query, None when there is none."""
    if georel is None and geometry is None and coordinates is None:
        return None
    if georel is None or geometry is None or coordinates is None:
        raise BadRequestData("a geo-query needs georel, geometry and coordinates together")
    if geometry not in GEOMETRIES:
        raise BadRequestData(f"geometry: must be one of {', '.join(GEOMETRIES)}")
    try:
        raw = orjson.loads(coordinates)
    except orjson.JSONDecodeError:
        raise BadRequestData("coordinates: must be a JSON array, like [10.75,59.91]") from None
    coords = _points(raw, _DEPTH[geometry])
    relation, *modifiers = georel.split(";")
    if relation not in RELATIONS:
        raise BadRequestData(f"georel: must be one of {', '.join(RELATIONS)}")
    prop = geoproperty or "location"

    def where(entity: Entity) -> Point | None:
        attr = entity.get(prop)
        if not isinstance(attr, dict) or attr.get("type") != "GeoProperty":
            return None
        value = attr.get("value") or {}
        if value.get("type") != "Point":
            return None
        lon, lat = value["coordinates"][:2]
        return (float(lon), float(lat))

    if relation == "near":
        if geometry != "Point":
            raise BadRequestData("georel near needs geometry=Point")
        low, high = _distances(modifiers)

        def near(entity: Entity) -> bool:
            p = where(entity)
            if p is None:
                return False
            d = distance_m(p, coords)
            return low <= d <= high

        return near
    if modifiers:
        raise BadRequestData(f"georel: {relation} takes no distance")

    def relate(entity: Entity) -> bool:
        p = where(entity)
        if p is None:
            return False
        if relation == "within":
            if geometry == "Polygon":
                return _in_polygon(p, coords)
            if geometry == "MultiPolygon":
                return any(_in_polygon(p, poly) for poly in coords)
            return False
        if relation == "intersects":
            return _intersects(p, geometry, coords)
        if relation == "disjoint":
            return not _intersects(p, geometry, coords)
        if relation in ("equals", "contains"):
            return geometry == "Point" and _intersects(p, geometry, coords)
        return False  # overlaps: a point overlaps nothing

    return relate


def _distances(modifiers: list[str]) -> tuple[float, float]:
    low, high = 0.0, math.inf
    if not modifiers:
        raise BadRequestData("georel: near needs maxDistance==<metres> or minDistance==<metres>")
    for modifier in modifiers:
        name, sep, number = modifier.partition("==")
        try:
            metres = float(number)
        except ValueError:
            metres = -1.0
        if not sep or metres < 0 or name not in ("maxDistance", "minDistance"):
            raise BadRequestData(
                f"georel: {modifier!r} is not maxDistance==<metres> or minDistance==<metres>"
            )
        if name == "maxDistance":
            high = metres
        else:
            low = metres
    return low, high
