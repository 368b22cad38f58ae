"""/public: the page for residents, and /api/v1/public/*, the three things it shows.

Air quality now and today per district, street-light faults being worked on per
district, and the town's water use per district and day. Like every read, the
routes need no key in open-data mode (``HUB_OPEN_DATA``) and any key otherwise; and
whoever calls, they read as the public does in open-data mode (privacy policy
``PUBLIC``), so only ``public`` devices and aggregates of ``personal`` devices over
at least ``HUB_PRIVACY_MIN_GROUP`` meters reach the page, never a device id, a place
or a reading of a household. docs/privacy.md, "The
public page".
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from hub.alerts.domain.airquality import CLASS_BOUNDS, CLASS_NAMES, classify
from hub.api.auth import Reader
from hub.api.deps import API_PREFIX, AppSettings, DbConn, Profiles
from hub.api.problems import responses
from hub.privacy import aggregates
from hub.privacy.policy import PUBLIC
from hub.profiles import Profile
from hub.store import public_page as store

router = APIRouter(prefix=f"{API_PREFIX}/public", tags=["public page"])

AirClass = Literal["low", "moderate", "high", "very_high"]
POLLUTANTS = tuple(CLASS_BOUNDS)
# How old the last complete hour may be and still be "now".
NOW_HOURS = 2
WATER_DAYS_MAX = 31


class HourClass(BaseModel):
    hour: datetime = Field(description="Start of the hour.")
    class_name: AirClass = Field(alias="class", description="The worst monitor's class.")

    model_config = {"populate_by_name": True}


class AirNow(HourClass):
    pollutants: dict[str, AirClass] = Field(description="The worst class of each pollutant.")
    means: dict[str, float] = Field(description="The highest monitor's hourly mean, µg/m³.")


class AirDistrict(BaseModel):
    district: str | None
    monitors: int = Field(description="Public air-quality monitors in the district.")
    now: AirNow | None = Field(description="The last complete hour, if it is recent.")
    worst_today: AirClass | None = Field(description="The worst hour of today so far.")
    today: list[HourClass] = Field(description="Every complete hour of today with readings.")


class AirOut(BaseModel):
    today_start: datetime = Field(description="Local midnight (HUB_TIMEZONE).")
    hour: datetime = Field(description="Start of the last complete hour.")
    districts: list[AirDistrict]


class LightsDistrict(BaseModel):
    district: str | None
    lamps: int = Field(description="Public street lights in the district.")
    reported: int = Field(description="Lamps with a fault nobody works on yet.")
    in_progress: int = Field(description="Lamps whose fault is acknowledged or assigned.")
    fixed_today: int = Field(description="Lamps whose fault was resolved today.")


class LightsOut(BaseModel):
    today_start: datetime
    districts: list[LightsDistrict]


class WaterDay(BaseModel):
    day: date
    cubic_metres: float | None = Field(description="Use of the district's meters; null if hidden.")
    meters: int | None = Field(description="Meters counted; null if hidden.")
    suppressed: bool = Field(description="Fewer meters than the minimum group: not shown.")


class WaterDistrict(BaseModel):
    district: str | None
    days: list[WaterDay]


class WaterOut(BaseModel):
    min_group: int = Field(description="HUB_PRIVACY_MIN_GROUP: smaller groups are hidden.")
    days: list[date]
    districts: list[WaterDistrict]


def _today_start(now: datetime, zone: str) -> datetime:
    local = now.astimezone(ZoneInfo(zone)).date()
    return datetime.combine(local, time(), ZoneInfo(zone)).astimezone(UTC)


def _worst(classes: list[str]) -> str:
    return max(classes, key=CLASS_NAMES.index)


@router.get(
    "/air-quality",
    summary="Air quality now and today, per district (the public page)",
    response_model=AirOut,
    response_model_by_alias=True,
    responses=responses(401),
)
async def public_air_quality(conn: DbConn, settings: AppSettings, _: Reader) -> AirOut:
    """Each district's class of the last complete hour and of every hour of today, in
    the four Norwegian levels: the worst of its public monitors and pollutants."""
    now = datetime.now(UTC)
    hour = now.replace(minute=0, second=0, microsecond=0)
    today = _today_start(now, settings.timezone)
    start = min(today, hour - timedelta(hours=NOW_HOURS))
    means = await store.hourly_means(conn, metrics=POLLUTANTS, start=start, end=hour, vis=PUBLIC)
    # district -> hour -> pollutant -> highest monitor mean
    worst: dict[str | None, dict[datetime, dict[str, float]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    for m in means:
        seen = worst[m.district][m.hour]
        seen[m.metric] = max(seen.get(m.metric, m.mean), m.mean)
    monitors = await store.monitors_per_district(conn, POLLUTANTS, vis=PUBLIC)
    districts = []
    for district in sorted(set(monitors) | set(worst), key=lambda d: (d is None, d or "")):
        hours = worst.get(district, {})
        classes = {h: {p: classify(p, v) for p, v in values.items()} for h, values in hours.items()}
        today_hours = [
            HourClass(hour=h, class_name=_worst(list(c.values())))
            for h, c in sorted(classes.items())
            if h >= today
        ]
        latest = max(classes, default=None)
        now_class = None
        if latest is not None and latest >= hour - timedelta(hours=NOW_HOURS):
            now_class = AirNow(
                hour=latest,
                class_name=_worst(list(classes[latest].values())),
                pollutants=classes[latest],
                means={p: round(v, 1) for p, v in hours[latest].items()},
            )
        districts.append(
            AirDistrict(
                district=district,
                monitors=monitors.get(district, 0),
                now=now_class,
                worst_today=_worst([h.class_name for h in today_hours]) if today_hours else None,
                today=today_hours,
            )
        )
    return AirOut(today_start=today, hour=hour, districts=districts)


def _lamp_profiles(profiles: dict[str, Profile]) -> list[str]:
    return sorted(
        name
        for name, p in profiles.items()
        if name == "street_light" or p.fiware_type == "Streetlight"
    )


@router.get(
    "/street-lights",
    summary="Street-light faults being worked on, per district (the public page)",
    response_model=LightsOut,
    responses=responses(401),
)
async def public_street_lights(
    conn: DbConn, settings: AppSettings, profiles: Profiles, _: Reader
) -> LightsOut:
    """Per district: lamps with a fault reported, being worked on (acknowledged or
    assigned to a crew), and fixed today."""
    today = _today_start(datetime.now(UTC), settings.timezone)
    found = await store.lamp_faults(
        conn, profiles=_lamp_profiles(profiles), today=today, vis=PUBLIC
    )
    return LightsOut(
        today_start=today,
        districts=[
            LightsDistrict(
                district=f.district,
                lamps=f.lamps,
                reported=f.reported,
                in_progress=f.in_progress,
                fixed_today=f.fixed_today,
            )
            for f in found
        ],
    )


def _water_metric(profiles: dict[str, Profile]) -> tuple[list[str], str]:
    """The personal profiles that measure water, and their counter metric."""
    names = sorted(
        n for n, p in profiles.items() if p.data_class == "personal" and "volume" in p.metrics
    )
    return names, "volume"


@router.get(
    "/water",
    summary="Water use per district and day (the public page)",
    response_model=WaterOut,
    responses=responses(401, 422),
)
async def public_water(
    conn: DbConn,
    settings: AppSettings,
    profiles: Profiles,
    _: Reader,
    days: Annotated[
        int, Query(ge=1, le=WATER_DAYS_MAX, description="Days back from today, today included.")
    ] = 7,
) -> WaterOut:
    """The household meters' use (m³) per district and local day, as aggregates over
    at least HUB_PRIVACY_MIN_GROUP meters; a smaller district is hidden and says so."""
    zone = ZoneInfo(settings.timezone)
    today = datetime.now(UTC).astimezone(zone).date()
    wanted = [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
    start = datetime.combine(wanted[0], time(), zone).astimezone(UTC)
    end = datetime.combine(today + timedelta(days=1), time(), zone).astimezone(UTC)
    names, metric = _water_metric(profiles)
    found = (
        await aggregates.district_aggregates(
            conn,
            metric=metric,
            bucket="day",
            start=start,
            end=end,
            min_group=settings.privacy_min_group,
            timezone=settings.timezone,
            counter=True,
            profiles=names,
        )
        if names
        else []
    )
    by_district: dict[str | None, dict[date, aggregates.DistrictAggregate]] = defaultdict(dict)
    for a in found:
        by_district[a.district][a.start.astimezone(zone).date()] = a
    districts = []
    for district in sorted(by_district, key=lambda d: (d is None, d or "")):
        row = by_district[district]
        districts.append(
            WaterDistrict(
                district=district,
                days=[
                    WaterDay(
                        day=d,
                        cubic_metres=None if a is None or a.sum is None else round(a.sum, 3),
                        meters=None if a is None else a.meters,
                        suppressed=a is not None and a.suppressed,
                    )
                    for d in wanted
                    for a in [row.get(d)]
                ],
            )
        )
    return WaterOut(min_group=settings.privacy_min_group, days=wanted, districts=districts)
