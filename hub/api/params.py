"""Query parameters shared by the routers, and the parsing and checking FastAPI
cannot do alone: time ranges in a time zone, bucket widths, bounding boxes, and
the device filter (:func:`device_filter`, one dependency for every route that
selects devices)."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Depends, Path, Query
from pydantic import BeforeValidator

from hub.api.privacy import Visible
from hub.api.schemas.devices import DEVICE_ID_PATTERN, Status
from hub.errors import InvalidParameter
from hub.store.devices import DeviceFilter

# Times outside these years are refused: no sensor reading lies there, and time
# arithmetic near the ends of the calendar would overflow.
MIN_YEAR, MAX_YEAR = 1970, 2200
_BUCKET = re.compile(r"^([1-9][0-9]{0,4})(m|h|d|w)$")
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}
_UNITS["w"] = 7 * _UNITS["d"]
MAX_BUCKET = timedelta(days=366)
_DATE_FIRST = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _rfc3339_only(value: Any) -> Any:
    # pydantic would also take a bare number as seconds since 1970; a time parameter
    # that is a number is almost always a mistake, so it is refused.
    if isinstance(value, str) and not _DATE_FIRST.match(value):
        raise ValueError("must be an RFC 3339 date-time, like 2026-01-01T00:00:00Z")
    return value


Time = Annotated[datetime, BeforeValidator(_rfc3339_only)]

_NUMBER = r"-?[0-9]+(\.[0-9]+)?"
BBOX_PATTERN = rf"^{_NUMBER},{_NUMBER},{_NUMBER},{_NUMBER}$"

DeviceId = Annotated[
    str, Path(pattern=DEVICE_ID_PATTERN, description="The device's id.", examples=["sl-0042"])
]
Limit = Annotated[int, Query(ge=1, le=1000, description="Most items per page.")]
Cursor = Annotated[str | None, Query(max_length=500, description="From a `next_cursor`.")]
Metrics = Annotated[
    list[str] | None,
    Query(
        alias="metric",
        max_length=50,
        description="Only these metrics (repeatable); default all.",
        examples=[["power"]],
    ),
]
From = Annotated[
    Time | None,
    Query(
        alias="from",
        description="Start (inclusive), RFC 3339; default `to` minus one day.",
        examples=["2026-01-01T00:00:00Z"],
    ),
]
To = Annotated[
    Time | None,
    Query(
        alias="to",
        description="End (exclusive), RFC 3339; default now.",
        examples=["2026-01-02T00:00:00Z"],
    ),
]
Tz = Annotated[
    str | None,
    Query(
        max_length=64,
        description="IANA time zone for times without an offset and for buckets of whole "
        "days; default the hub's (HUB_TIMEZONE).",
        examples=["Europe/Oslo"],
    ),
]

ProfileFilter = Annotated[
    list[str] | None, Query(max_length=50, description="Only these profiles (repeatable).")
]
StatusFilter = Annotated[list[Status] | None, Query(description="Only these statuses.")]
DistrictFilter = Annotated[
    list[str] | None, Query(max_length=50, description="Only these districts (repeatable).")
]
Bbox = Annotated[
    str | None,
    Query(
        pattern=BBOX_PATTERN,
        description="Only devices inside `min_lon,min_lat,max_lon,max_lat` (WGS 84).",
        examples=["10.35,63.40,10.45,63.45"],
    ),
]
TextFilter = Annotated[
    str | None,
    Query(
        alias="q",
        min_length=1,
        max_length=100,
        description="Text in the id, name or district (case-insensitive).",
    ),
]
Decommissioned = Annotated[bool, Query(description="Include decommissioned devices.")]
DeviceIds = Annotated[
    list[str] | None, Query(max_length=500, description="Only these device ids (repeatable).")
]


def device_filter(*, by_id: bool, decommissioned: bool = False) -> Any:
    """The dependency that reads the device-filter parameters into a DeviceFilter:
    profile, status, district, bbox, q and include_decommissioned (default
    ``decommissioned``), and with ``by_id`` also repeatable ``device`` ids.

    Use as ``where: Annotated[DeviceFilter, Depends(device_filter(by_id=True))]``.
    """

    def filtered(
        vis: Visible,
        profile: ProfileFilter = None,
        status: StatusFilter = None,
        district: DistrictFilter = None,
        bbox: Bbox = None,
        text: TextFilter = None,
        include_decommissioned: Decommissioned = decommissioned,
    ) -> DeviceFilter:
        return DeviceFilter(
            profiles=profile or None,
            statuses=list(status) if status else None,
            districts=district or None,
            bbox=parse_bbox(bbox) if bbox is not None else None,
            text=text,
            include_decommissioned=include_decommissioned,
            visibility=vis,
        )

    # A default, not an Annotated type: the annotations are strings (PEP 563) and
    # FastAPI resolves them in this module, where ``filtered`` is not a name.
    def selected(
        where: DeviceFilter = Depends(filtered),  # noqa: B008
        device: DeviceIds = None,
    ) -> DeviceFilter:
        return dataclasses.replace(where, device_ids=device or None)

    return selected if by_id else filtered


def zone(name: str, param: str = "tz") -> str:
    """A valid IANA time zone name, or a 422 naming the parameter."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidParameter(
            param, f"unknown time zone {name!r} (e.g. Europe/Oslo, UTC)"
        ) from None
    return name


def instant(value: datetime, tz: str, param: str) -> datetime:
    """``value`` as aware UTC; a time without offset is read in ``tz``."""
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise InvalidParameter(param, f"must lie between the years {MIN_YEAR} and {MAX_YEAR}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(tz))
    return value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class TimeRange:
    start: datetime
    end: datetime

    @property
    def length(self) -> timedelta:
        return self.end - self.start


def time_range(
    start: datetime | None,
    end: datetime | None,
    *,
    tz: str,
    default: timedelta,
    longest: timedelta,
    hint: str,
) -> TimeRange:
    """``[from, to)`` with defaults (``to`` = now, ``from`` = ``to - default``),
    checked: from before to, and no longer than ``longest``."""
    stop = instant(end, tz, "to") if end is not None else datetime.now(UTC)
    begin = instant(start, tz, "from") if start is not None else stop - default
    if begin >= stop:
        raise InvalidParameter("from", "must be before 'to'")
    if stop - begin > longest:
        raise InvalidParameter(
            "from", f"the range is longer than the limit of {_days(longest)}; {hint}"
        )
    return TimeRange(begin, stop)


def bucket_width(text: str) -> timedelta:
    """``5m``, ``1h``, ``1d``, ``2w``...: minutes, hours, days or weeks."""
    match = _BUCKET.fullmatch(text)
    if match is None:
        raise InvalidParameter(
            "bucket", f"{text!r} is not a bucket width: use e.g. 5m, 15m, 1h, 6h, 1d, 7d, 1w"
        )
    width = int(match.group(1)) * _UNITS[match.group(2)]
    if width > MAX_BUCKET:
        raise InvalidParameter("bucket", "must be at most 366 days")
    return width


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """``min_lon,min_lat,max_lon,max_lat`` (WGS 84 degrees, GeoJSON order)."""
    parts = text.split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 4 or any(v != v for v in values):
        raise InvalidParameter("bbox", "must be four numbers: min_lon,min_lat,max_lon,max_lat")
    min_lon, min_lat, max_lon, max_lat = values
    if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
        raise InvalidParameter(
            "bbox", "needs -180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90"
        )
    return min_lon, min_lat, max_lon, max_lat


def _days(span: timedelta) -> str:
    return f"{span.days} days" if span.days != 1 else "1 day"
