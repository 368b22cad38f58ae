"""/air-quality: each monitor's latest hourly class (Norwegian levels)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from hub.api.deps import API_PREFIX, DbConn
from hub.api.privacy import Visible
from hub.api.problems import responses
from hub.privacy.access_log import Read, record
from hub.store.airquality import air_quality_classes
from hub.store.devices import of_class

router = APIRouter(prefix=f"{API_PREFIX}/air-quality", tags=["air quality"])

AirClass = Literal["low", "moderate", "high", "very_high"]


class AirQualityOut(BaseModel):
    """The class of a monitor's last complete clock hour: the worst of its pollutants."""

    device_id: str = Field(examples=["aq-0001"])
    district: str | None = Field(examples=["Sentrum"])
    hour: datetime = Field(description="Start of the hour the class is about.")
    class_name: AirClass = Field(
        alias="class",
        description="`low`, `moderate`, `high` or `very_high` (lite, moderat, høy, svært høy).",
    )
    pollutants: dict[str, AirClass] = Field(description="The class of each pollutant.")
    means: dict[str, float] = Field(description="Hourly means, ug/m3.")
    updated_at: datetime

    model_config = {"populate_by_name": True}


@router.get(
    "",
    summary="Air-quality class of every monitor",
    response_model=list[AirQualityOut],
    response_model_by_alias=True,
    responses=responses(401, 422),
)
async def list_air_quality(
    conn: DbConn,
    vis: Visible,
    device_id: Annotated[str | None, Query(max_length=64, description="Only this monitor.")] = None,
) -> list[AirQualityOut]:
    """The latest hourly class of each monitor that has one (a monitor gets its first
    class after its first complete clock hour of readings)."""
    found = await air_quality_classes(conn, device_id=device_id, vis=vis)
    if vis.audited:
        personal = await of_class(conn, [c.device_id for c in found], "personal")
        await record(conn, vis, [Read(d, "GET /api/v1/air-quality", 1) for d in personal])
    return [
        AirQualityOut(
            device_id=c.device_id,
            district=c.district,
            hour=c.hour,
            class_name=c.class_name,
            pollutants=c.pollutants,
            means=c.means,
            updated_at=c.updated_at,
        )
        for c in found
    ]
