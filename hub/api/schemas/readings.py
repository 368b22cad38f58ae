"""Reading schemas of the API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Aggregate = Literal["avg", "min", "max", "sum", "count", "first", "last"]


class ReadingOut(BaseModel):
    time: datetime = Field(description="Raw: the reading's time. Buckets: the bucket's start.")
    metric: str = Field(examples=["power"])
    value: float = Field(examples=[42.5])


class Readings(BaseModel):
    """Readings of one device, raw or in buckets, ordered by time then metric."""

    device_id: str = Field(examples=["sl-0042"])
    start: datetime = Field(
        alias="from",
        description="Start of the range (inclusive); for buckets, widened to a bucket start.",
    )
    end: datetime = Field(
        alias="to", description="End of the range (exclusive); for buckets, widened likewise."
    )
    bucket: str | None = Field(description="The bucket width, or null for raw readings.")
    agg: Aggregate | None = Field(description="The aggregate of each bucket.")
    tz: str | None = Field(description="Time zone of day-or-longer buckets.")
    source: Literal["raw", "rollup_1h", "rollup_1d"] = Field(
        description="What the values were computed from: raw readings (`date_bin`) or "
        "the hourly/daily rollups (continuous aggregates on TimescaleDB)."
    )
    units: dict[str, str] = Field(description="Unit of each metric, from the device profile.")
    readings: list[ReadingOut]
    next_cursor: str | None = Field(
        None, description="Raw readings only: pass as `cursor` for the next page."
    )

    model_config = {"populate_by_name": True, "serialize_by_alias": True}


class LatestReading(BaseModel):
    time: datetime
    value: float
    unit: str | None = Field(examples=["W"])


class DeviceLatest(BaseModel):
    device_id: str = Field(examples=["sl-0042"])
    profile: str = Field(examples=["street_light"])
    values: dict[str, LatestReading] = Field(description="Latest reading of each metric.")


class LatestPage(BaseModel):
    items: list[DeviceLatest]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )
