"""/profiles: the device types the hub knows, as loaded from their YAML files."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from hub.api.auth import Reader
from hub.api.deps import API_PREFIX, Profiles
from hub.api.problems import responses
from hub.errors import NotFound
from hub.profiles import NAME_PATTERN, Profile

router = APIRouter(prefix=f"{API_PREFIX}/profiles", tags=["profiles"])


def _public(profile: Profile) -> dict[str, Any]:
    # Simulator hints are for simulators/; the API shows what describes the device type.
    return profile.model_dump(exclude={"simulation"})


@router.get(
    "",
    summary="List device profiles",
    response_model=list[Profile],
    response_model_exclude={"__all__": {"simulation"}},
    responses=responses(401),
)
async def list_profiles(profiles: Profiles, _: Reader) -> list[dict[str, Any]]:
    """Every device type: metrics (unit, type, plausible range), reporting interval
    and default alert rules. The same content as the YAML files in device_profiles/."""
    return [_public(p) for _, p in sorted(profiles.items())]


@router.get(
    "/{name}",
    summary="One device profile",
    response_model=Profile,
    response_model_exclude={"simulation"},
    responses=responses(401, 404),
)
async def get_profile(
    name: Annotated[str, Path(pattern=NAME_PATTERN, examples=["street_light"])],
    profiles: Profiles,
    _: Reader,
) -> dict[str, Any]:
    profile = profiles.get(name)
    if profile is None:
        raise NotFound(f"no profile {name!r} (known: {', '.join(sorted(profiles))})")
    return _public(profile)
