"""A made-up Norwegian town: districts, streets and the spots along them.

The layout is drawn from the seed around configurable centre coordinates, so the
same ``--seed`` always gives the same town. Distances are in metres on a local flat
approximation, which is accurate to well under a metre over a town's extent.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Literal

# Hamar, a mid-size town on lake Mjøsa.
DEFAULT_LAT = 60.7945
DEFAULT_LON = 11.0680

DistrictKind = Literal["centre", "residential", "suburb", "industrial"]
RoadClass = Literal["main", "collector", "residential"]

_DISTRICTS: tuple[tuple[str, DistrictKind], ...] = (
    ("Sentrum", "centre"),
    ("Nordbyen", "residential"),
    ("Østbyen", "residential"),
    ("Sørbyen", "residential"),
    ("Vestbyen", "suburb"),
    ("Bakkelia", "suburb"),
    ("Stasjonsbyen", "residential"),
    ("Industriområdet", "industrial"),
    ("Skogly", "suburb"),
    ("Strandlia", "suburb"),
)
_STEMS = (
    "Stor", "Kirke", "Skole", "Torg", "Park", "Strand", "Mølle", "Bjørke", "Furu", "Gran",
    "Eike", "Rogn", "Linde", "Hage", "Bakke", "Sol", "Fjell", "Elve", "Sjø", "Jernbane",
    "Meieri", "Smie", "Brygge", "Tun", "Haug", "Myr", "Lyng", "Kløver", "Blåbær", "Tyttebær",
    "Rips", "Hassel", "Alm", "Osp", "Selje", "Vidje", "Kongs", "Dronning", "Prest", "Lensmann",
)  # fmt: skip
_SUFFIX = {"main": ("gata", "vegen"), "collector": ("gata", "vegen", "veien"),
           "residential": ("veien", "vegen", "lia", "bakken", "stien", "tunet")}  # fmt: skip
_SPACING_M = {"main": 32.0, "collector": 38.0, "residential": 45.0}


@dataclass(frozen=True, slots=True)
class Street:
    name: str
    district: str
    road: RoadClass
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def length_m(self) -> float:
        return math.hypot(self.x1 - self.x0, self.y1 - self.y0)


@dataclass(frozen=True, slots=True)
class District:
    name: str
    kind: DistrictKind
    x: float
    y: float
    radius_m: float


@dataclass(frozen=True, slots=True)
class Spot:
    """A place for a device: a pole or a house along a street."""

    lat: float
    lon: float
    district: str
    district_kind: DistrictKind
    street: str
    road: RoadClass


@dataclass
class Town:
    lat: float
    lon: float
    districts: list[District]
    streets: list[Street] = field(default_factory=list)

    def to_latlon(self, x: float, y: float) -> tuple[float, float]:
        lat = self.lat + y / 111_320.0
        lon = self.lon + x / (111_320.0 * math.cos(math.radians(self.lat)))
        return round(lat, 6), round(lon, 6)


def build_town(lat: float = DEFAULT_LAT, lon: float = DEFAULT_LON, *, seed: int = 0) -> Town:
    """Lay out the districts of the town; streets are added as devices need them."""
    rng = random.Random(f"town:{seed}")
    districts = [District("Sentrum", "centre", 0.0, 0.0, 700.0)]
    ring = _DISTRICTS[1:]
    start = rng.uniform(0, 2 * math.pi)
    for index, (name, kind) in enumerate(ring):
        angle = start + 2 * math.pi * index / len(ring) + rng.uniform(-0.25, 0.25)
        distance = rng.uniform(1400, 3600)
        radius = rng.uniform(600, 1000) if kind != "industrial" else rng.uniform(400, 700)
        districts.append(
            District(name, kind, distance * math.cos(angle), distance * math.sin(angle), radius)
        )
    return Town(lat=lat, lon=lon, districts=districts)


def _new_street(town: Town, district: District, rng: random.Random) -> Street:
    used = {s.name for s in town.streets}
    if district.kind == "centre":
        road: RoadClass = rng.choice(("main", "collector", "collector"))
    elif district.kind == "industrial":
        road = rng.choice(("main", "collector"))
    else:
        road = rng.choice(("collector", "residential", "residential", "residential"))
    for _ in range(200):
        name = rng.choice(_STEMS) + rng.choice(_SUFFIX[road])
        if name not in used:
            break
    else:
        name = f"{rng.choice(_STEMS)}{rng.choice(_SUFFIX[road])} {len(used)}"
    angle = rng.uniform(0, math.pi)
    length = rng.uniform(300, 1100) if road != "residential" else rng.uniform(150, 600)
    cx = district.x + rng.uniform(-district.radius_m, district.radius_m) * 0.7
    cy = district.y + rng.uniform(-district.radius_m, district.radius_m) * 0.7
    dx, dy = math.cos(angle) * length / 2, math.sin(angle) * length / 2
    street = Street(name, district.name, road, cx - dx, cy - dy, cx + dx, cy + dy)
    town.streets.append(street)
    return street


def spots_along_streets(
    town: Town,
    count: int,
    *,
    rng: random.Random,
    weights: dict[DistrictKind, float],
    spacing_factor: float = 1.0,
    offset_m: float = 6.0,
    road_filter: frozenset[RoadClass] | None = None,
) -> list[Spot]:
    """``count`` spots spread over the districts by ``weights``, walking along streets."""
    chosen = [d for d in town.districts if weights.get(d.kind, 0) > 0]
    if not chosen or count <= 0:
        return []
    total = sum(weights[d.kind] for d in chosen)
    quotas = [count * weights[d.kind] / total for d in chosen]
    counts = [int(q) for q in quotas]
    # Hand the remainder to the largest fractional parts, so the total is exact.
    order = sorted(range(len(chosen)), key=lambda i: quotas[i] - counts[i], reverse=True)
    for i in order[: count - sum(counts)]:
        counts[i] += 1
    spots: list[Spot] = []
    for district, wanted in zip(chosen, counts, strict=True):
        while wanted > 0:
            street = _new_street(town, district, rng)
            if road_filter is not None and street.road not in road_filter:
                continue
            step = _SPACING_M[street.road] * spacing_factor
            n = max(1, min(wanted, int(street.length_m / step)))
            for i in range(n):
                f = (i + 0.5) / n
                x = street.x0 + (street.x1 - street.x0) * f
                y = street.y0 + (street.y1 - street.y0) * f
                # Alternate sides of the street.
                nx, ny = -(street.y1 - street.y0), street.x1 - street.x0
                norm = math.hypot(nx, ny) or 1.0
                side = offset_m if i % 2 == 0 else -offset_m
                lat, lon = town.to_latlon(x + nx / norm * side, y + ny / norm * side)
                spots.append(Spot(lat, lon, district.name, district.kind, street.name, street.road))
            wanted -= n
    return spots


def district_centres(town: Town, count: int, *, rng: random.Random) -> list[Spot]:
    """Spots for monitors: roadside in the centre first, then one per district."""
    spots: list[Spot] = []
    ordered = sorted(town.districts, key=lambda d: (d.kind != "centre", d.kind == "suburb"))
    for i in range(count):
        district = ordered[i % len(ordered)]
        street = _new_street(town, district, rng)
        f = rng.uniform(0.2, 0.8)
        x = street.x0 + (street.x1 - street.x0) * f
        y = street.y0 + (street.y1 - street.y0) * f
        lat, lon = town.to_latlon(x, y)
        spots.append(Spot(lat, lon, district.name, district.kind, street.name, street.road))
    return spots
