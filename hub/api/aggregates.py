"""/aggregates/districts: personal data as the public may see it (docs/privacy.md).

Sum, mean and count of meters per district and hour or day, over the personal
devices (household water meters); groups below HUB_PRIVACY_MIN_GROUP suppressed.
Readable like every other read (any key, or no key in open-data mode): it never
carries a device's id, place or own series.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from hub.api import params
from hub.api.deps import API_PREFIX, AppSettings, DbConn, Profiles
from hub.api.params import DistrictFilter, From, ProfileFilter, To, Tz
from hub.api.privacy import Visible
from hub.api.problems import responses
from hub.errors import InvalidParameter
from hub.privacy.aggregates import Bucket, district_aggregates
from hub.profiles import Profile
from hub.store.readings import make_grid

router = APIRouter(prefix=f"{API_PREFIX}/aggregates", tags=["aggregates"])

_WIDTH = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
_DEFAULT = {"hour": timedelta(days=1), "day": timedelta(days=7)}
_LONGEST = {"hour": timedelta(days=31), "day": timedelta(days=400)}


class DistrictAggregateOut(BaseModel):
    district: str | None = Field(description="The district; null for devices without one.")
    start: datetime = Field(description="Start of the hour or (local) day.")
    meters: int | None = Field(description="Meters that reported; null when suppressed.")
    sum: float | None = Field(description="Sum over the meters; null when suppressed.")
    mean: float | None = Field(description="Mean per meter; null when suppressed.")
    suppressed: bool = Field(
        description="Fewer meters than HUB_PRIVACY_MIN_GROUP reported: nothing is shown."
    )


class DistrictAggregates(BaseModel):
    metric: str
    unit: str | None
    counter: bool = Field(
        description="True: each meter's rise in the bucket (its consumption) is aggregated; "
        "false: each meter's mean."
    )
    bucket: Bucket
    tz: str
    from_: datetime = Field(alias="from")
    to: datetime
    min_group: int = Field(description="Fewest meters a shown group covers.")
    items: list[DistrictAggregateOut]

    model_config = {"populate_by_name": True}


def _kind(metric: str, profiles: dict[str, Profile], wanted: list[str] | None) -> tuple[bool, str]:
    found = [
        p.metrics[metric]
        for name, p in profiles.items()
        if p.data_class == "personal" and (wanted is None or name in wanted) and metric in p.metrics
    ]
    if not found:
        raise InvalidParameter(
            "metric", f"{metric!r} is not a metric of a personal profile (docs/privacy.md)"
        )
    kinds = {m.kind for m in found}
    if len(kinds) > 1:
        raise InvalidParameter("profile", f"{metric!r} is a counter in some profiles: name one")
    return kinds == {"counter"}, found[0].unit


@router.get(
    "/districts",
    summary="Personal data per district and hour or day (sum, mean, count of meters)",
    response_model=DistrictAggregates,
    response_model_by_alias=True,
    responses=responses(401, 422),
)
async def district_aggregates_route(
    conn: DbConn,
    _: Visible,
    settings: AppSettings,
    profiles: Profiles,
    metric: Annotated[str, Query(max_length=63, description="The metric, e.g. `volume`.")],
    bucket: Annotated[Bucket, Query(description="`hour` or `day` (local days of `tz`).")] = "day",
    profile: ProfileFilter = None,
    district: DistrictFilter = None,
    start: From = None,
    end: To = None,
    tz: Tz = None,
) -> DistrictAggregates:
    """Over the devices of the `personal` class: per district and bucket in
    `[from, to)` (default the last 7 days, or day with `bucket=hour`; at most 400
    days, or 31 with hours), widened to whole buckets. A counter metric (a water
    meter's `volume`) gives each meter's consumption in the bucket."""
    counter, unit = _kind(metric, profiles, profile)
    zone = params.zone(tz or settings.timezone)
    span = params.time_range(
        start,
        end,
        tz=zone,
        default=_DEFAULT[bucket],
        longest=_LONGEST[bucket],
        hint="choose a shorter range or day buckets",
    )
    grid = make_grid(_WIDTH[bucket], zone, span.start, span.end)
    rows = await district_aggregates(
        conn,
        metric=metric,
        bucket=bucket,
        start=grid.start,
        end=grid.end,
        min_group=settings.privacy_min_group,
        timezone=zone,
        counter=counter,
        profiles=profile or None,
        districts=district or None,
    )
    return DistrictAggregates(
        metric=metric,
        unit=unit,
        counter=counter,
        bucket=bucket,
        tz=zone,
        from_=grid.start,
        to=grid.end,
        min_group=settings.privacy_min_group,
        items=[
            DistrictAggregateOut(
                district=r.district,
                start=r.start,
                meters=r.meters,
                sum=r.sum,
                mean=r.mean,
                suppressed=r.suppressed,
            )
            for r in rows
        ],
    )
