"""The simulated fleet: which devices exist, where they stand, and their traits.

:func:`build_fleet` is deterministic for a given seed, profile set and size, so a
fleet can be listed (``python -m simulators devices``), imported into the hub,
and then simulated with the same ids and positions.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import orjson

from hub.profiles import Profile
from simulators.town import (
    DEFAULT_LAT,
    DEFAULT_LON,
    DistrictKind,
    Spot,
    Town,
    build_town,
    district_centres,
    spots_along_streets,
)

KNOWN_MODELS = ("street_light", "water_meter", "air_quality")
_ID_PREFIX = {"street_light": "sl", "water_meter": "wm", "air_quality": "aq"}
DEFAULT_MIX = {"street_light": 0.52, "water_meter": 0.44, "air_quality": 0.02}
_OTHER_PROFILE_SHARE = 0.03
Trait = float | int | str | bool


@dataclass(frozen=True)
class DeviceSpec:
    """One simulated device: identity, place and the traits its model uses."""

    device_id: str
    profile: str
    model: str
    lat: float
    lon: float
    district: str
    street: str
    payload_format: str  # flat | metrics | senml
    ts_style: str  # rfc3339 | epoch_ms | epoch_s
    traits: dict[str, Trait] = field(default_factory=dict, hash=False, compare=False)

    def row(self) -> dict[str, object]:
        return {
            "device_id": self.device_id,
            "profile": self.profile,
            "lat": self.lat,
            "lon": self.lon,
            "district": self.district,
            "street": self.street,
        }


def model_of(profile: Profile) -> str:
    """The behaviour model that simulates a profile."""
    if profile.simulation is not None and profile.simulation.model != "generic":
        return profile.simulation.model
    return profile.name if profile.name in KNOWN_MODELS else "generic"


def id_prefix(profile: str, taken: set[str]) -> str:
    prefix = _ID_PREFIX.get(profile) or "".join(part[0] for part in profile.split("_") if part)
    if prefix in taken:
        prefix = profile.replace("_", "-")
    return prefix


def split_counts(total: int, shares: Mapping[str, float]) -> dict[str, int]:
    """Divide ``total`` by ``shares``; every profile gets one device if total allows."""
    names = sorted(shares)
    if total <= 0 or not names:
        return dict.fromkeys(names, 0)
    weight = sum(shares.values()) or 1.0
    counts = {n: int(total * shares[n] / weight) for n in names}
    if total >= len(names):
        for n in names:
            counts[n] = max(counts[n], 1)
    by_share = sorted(names, key=lambda n: shares[n], reverse=True)
    i = 0
    while sum(counts.values()) < total:
        counts[by_share[i % len(by_share)]] += 1
        i += 1
    while sum(counts.values()) > total:
        largest = max(by_share, key=lambda n: counts[n])
        counts[largest] -= 1
    return counts


def default_mix(profiles: Mapping[str, Profile]) -> dict[str, float]:
    return {name: DEFAULT_MIX.get(name, _OTHER_PROFILE_SHARE) for name in profiles}


def build_fleet(
    profiles: Mapping[str, Profile],
    count: int,
    *,
    seed: int = 0,
    lat: float = DEFAULT_LAT,
    lon: float = DEFAULT_LON,
    mix: Mapping[str, float] | None = None,
) -> list[DeviceSpec]:
    """Place ``count`` devices of the given profiles in a town drawn from ``seed``."""
    shares = dict(mix) if mix is not None else default_mix(profiles)
    unknown = shares.keys() - profiles.keys()
    if unknown:
        raise ValueError(f"no profile named {sorted(unknown)[0]!r}")
    town = build_town(lat, lon, seed=seed)
    counts = split_counts(count, shares)
    fleet: list[DeviceSpec] = []
    taken: set[str] = set()
    for name in sorted(counts):
        profile = profiles[name]
        model = model_of(profile)
        prefix = id_prefix(name, taken)
        taken.add(prefix)
        rng = random.Random(f"place:{seed}:{name}")
        spots = _spots_for(model, town, counts[name], rng)
        for number, spot in enumerate(spots, start=1):
            device_id = f"{prefix}-{number:04d}"
            fleet.append(_device(device_id, profile, model, spot, seed))
    return fleet


_WEIGHTS: dict[str, dict[DistrictKind, float]] = {
    "street_light": {"centre": 3, "residential": 3, "suburb": 2, "industrial": 1},
    "water_meter": {"centre": 2, "residential": 4, "suburb": 3},
    "generic": {"centre": 3, "residential": 2, "suburb": 1, "industrial": 1},
}


def _spots_for(model: str, town: Town, count: int, rng: random.Random) -> list[Spot]:
    if model == "air_quality":
        return district_centres(town, count, rng=rng)
    if model == "water_meter":
        return spots_along_streets(
            town, count, rng=rng, weights=_WEIGHTS[model], spacing_factor=0.5, offset_m=15
        )
    return spots_along_streets(
        town, count, rng=rng, weights=_WEIGHTS.get(model, _WEIGHTS["generic"])
    )


def _device(device_id: str, profile: Profile, model: str, spot: Spot, seed: int) -> DeviceSpec:
    rng = random.Random(f"device:{seed}:{device_id}")
    wanted = profile.simulation.payload_format if profile.simulation else "mixed"
    fmt = rng.choice(("flat", "metrics", "senml")) if wanted == "mixed" else wanted
    ts_style = rng.choices(("rfc3339", "epoch_ms", "epoch_s"), weights=(5, 3, 1))[0]
    traits: dict[str, Trait] = {"phase": rng.random()}
    if model == "street_light":
        legacy = rng.random() < 0.12
        rated = {"main": (90, 150), "collector": (50, 90), "residential": (25, 55)}[spot.road]
        traits |= {
            "rated_w": 150.0 if legacy else round(rng.uniform(*rated)),
            "switch_elevation": round(rng.gauss(-1.0, 0.6), 2),
            "night_dimming": rng.random() < 0.7,
            "energy_start_kwh": round(rng.uniform(50, 6000), 1),
        }
    elif model == "water_meter":
        persons = rng.choices((1, 2, 3, 4, 5), weights=(38, 32, 12, 13, 5))[0]
        traits |= {
            "persons": persons,
            # Norwegian households use about 180 litres per person and day.
            "litres_per_person_day": round(rng.lognormvariate(5.15, 0.25)),
            "register_start_m3": round(rng.uniform(20, 2500), 3),
            "pit_offset_c": round(rng.uniform(-1.0, 2.0), 2),
            "battery_start": rng.randint(55, 100),
            "early_riser_h": round(rng.uniform(-1.0, 1.0), 2),
        }
    elif model == "air_quality":
        site = "roadside" if spot.road == "main" or spot.district_kind == "centre" else "background"
        traits |= {
            "site": site,
            "traffic": round(
                rng.uniform(1.0, 1.8) if site == "roadside" else rng.uniform(0.3, 0.7), 2
            ),
            "wood_burning": round(
                rng.uniform(0.6, 1.4) * (1.4 if spot.district_kind == "suburb" else 1.0), 2
            ),
            "battery_start": rng.randint(70, 100),
        }
    return DeviceSpec(
        device_id=device_id,
        profile=profile.name,
        model=model,
        lat=spot.lat,
        lon=spot.lon,
        district=spot.district,
        street=spot.street,
        payload_format=fmt,
        ts_style=ts_style,
        traits=traits,
    )


def fleet_csv(fleet: Sequence[DeviceSpec]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(
        out,
        fieldnames=["device_id", "profile", "lat", "lon", "district", "street"],
        lineterminator="\n",
    )
    writer.writeheader()
    for device in fleet:
        writer.writerow(device.row())
    return out.getvalue()


def fleet_json(fleet: Sequence[DeviceSpec]) -> bytes:
    return orjson.dumps([d.row() for d in fleet], option=orjson.OPT_INDENT_2)


def fleet_geojson(fleet: Sequence[DeviceSpec]) -> bytes:
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [d.lon, d.lat]},
            "properties": {k: v for k, v in d.row().items() if k not in ("lat", "lon")},
        }
        for d in fleet
    ]
    return orjson.dumps(
        {"type": "FeatureCollection", "features": features}, option=orjson.OPT_INDENT_2
    )
