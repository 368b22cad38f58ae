"""The NGSI-LD query language and geo-queries, on entities in the normalized form."""

from __future__ import annotations

from typing import Any

import pytest

from hub.ngsi.errors import BadRequestData
from hub.ngsi.geo import distance_m, parse_geo
from hub.ngsi.query import parse_q

LAMP: dict[str, Any] = {
    "id": "urn:ngsi-ld:Streetlight:sl-1",
    "type": "Streetlight",
    "powerState": {"type": "Property", "value": "on", "observedAt": "2026-01-10T06:45:00Z"},
    "illuminanceLevel": {"type": "Property", "value": 0.8},
    "powerConsumption": {"type": "Property", "value": 42.5, "unitCode": "WTT"},
    "lit": {"type": "Property", "value": True},
    "address": {"type": "Property", "value": {"streetAddress": "Storgata 1", "postalCode": "0155"}},
    "refDevice": {"type": "Relationship", "object": ["urn:ngsi-ld:Device:sl-1"]},
    "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [10.75, 59.91]}},
}


@pytest.mark.parametrize(
    ("q", "matches"),
    [
        ('powerState=="on"', True),
        ('powerState!="on"', False),
        ("powerConsumption>42", True),
        ("powerConsumption>=42.5", True),
        ("powerConsumption<42.5", False),
        ("powerConsumption<=42.5", True),
        ("powerConsumption==40..45", True),
        ("powerConsumption==43..45", False),
        ("powerConsumption!=43..45", True),
        ("powerConsumption==1,42.5,7", True),
        ('powerState=="off","on"', True),
        ("illuminanceLevel<0.5|powerConsumption>40", True),
        ("illuminanceLevel<0.5;powerConsumption>40", False),
        ('(illuminanceLevel<0.5|powerState=="on");powerConsumption>40', True),
        ('illuminanceLevel<0.5|powerState=="on";powerConsumption>50', False),
        ("lit==true", True),
        ("lit==false", False),
        ("powerConsumption", True),
        ("colour", False),
        ('address[postalCode]=="0155"', True),
        ('address[streetAddress]~="^Stor"', True),
        ('powerState~="^o"', True),
        ('powerState!~="^o"', False),
        ('powerState.observedAt>"2026-01-10T00:00:00Z"', True),
        ("powerState.observedAt<2026-01-10T00:00:00Z", False),
        ('powerConsumption.unitCode=="WTT"', True),
        ('refDevice=="urn:ngsi-ld:Device:sl-1"', True),
        ('powerState>"a"', True),  # texts compare as texts
        ("powerState>3", False),  # a text never compares with a number
    ],
)
def test_query_language(q: str, matches: bool) -> None:
    assert parse_q(q)(LAMP) is matches


@pytest.mark.parametrize(
    "q",
    [
        "",
        "powerState==",
        "(powerState",
        "powerState>>1",
        "==1",
        "a;",
        "a|",
        'a=="x',
        'a~="("',
        "a>1..2",
    ],
)
def test_malformed_queries_are_refused(q: str) -> None:
    with pytest.raises(BadRequestData):
        parse_q(q)


def test_distance_is_great_circle_metres() -> None:
    # One degree of latitude is about 111.2 km anywhere.
    assert distance_m((10.75, 59.0), (10.75, 60.0)) == pytest.approx(111_195, rel=1e-3)


@pytest.mark.parametrize(
    ("georel", "geometry", "coordinates", "matches"),
    [
        ("near;maxDistance==10", "Point", "[10.75,59.91]", True),
        ("near;maxDistance==10", "Point", "[10.76,59.91]", False),
        ("near;minDistance==100", "Point", "[10.76,59.91]", True),
        ("within", "Polygon", "[[[10,59],[11,59],[11,60],[10,60],[10,59]]]", True),
        # A hole around the point.
        (
            "within",
            "Polygon",
            "[[[10,59],[11,59],[11,60],[10,60],[10,59]],[[10.7,59.9],[10.8,59.9],[10.8,59.95],[10.7,59.95],[10.7,59.9]]]",
            False,
        ),
        ("within", "MultiPolygon", "[[[[10,59],[11,59],[11,60],[10,60],[10,59]]]]", True),
        ("intersects", "LineString", "[[10.7,59.91],[10.8,59.91]]", True),
        ("intersects", "LineString", "[[10.7,59.92],[10.8,59.92]]", False),
        ("disjoint", "LineString", "[[10.7,59.92],[10.8,59.92]]", True),
        ("equals", "Point", "[10.75,59.91]", True),
        ("overlaps", "Point", "[10.75,59.91]", False),
    ],
)
def test_geo_queries(georel: str, geometry: str, coordinates: str, matches: bool) -> None:
    predicate = parse_geo(georel, geometry, coordinates, None)
    assert predicate is not None and predicate(LAMP) is matches


def test_entity_without_the_geoproperty_never_matches() -> None:
    predicate = parse_geo("near;maxDistance==10", "Point", "[10.75,59.91]", "observationSpace")
    assert predicate is not None and predicate(LAMP) is False
