"""/exports: readings as CSV and devices as GeoJSON, streamed.

Both are written while they are read from the database (a server-side cursor per
series; devices a page at a time), so a year of a fleet's readings never sits in
memory. Each export uses its own connection, not one from the API's pool, so long
downloads cannot starve the other requests.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from hub.api import params
from hub.api.deps import API_PREFIX, AppSettings, DbConn, Profiles
from hub.api.params import From, Metrics, To, Tz
from hub.api.problems import responses
from hub.config import Settings
from hub.errors import Forbidden, NotFound
from hub.model import Device
from hub.privacy.access_log import Read, record_now
from hub.privacy.policy import Visibility
from hub.profiles import Profile
from hub.store import devices as device_store
from hub.store import readings as store
from hub.store.db import AsyncConn, aconnect

log = logging.getLogger(__name__)

router = APIRouter(prefix=f"{API_PREFIX}/exports", tags=["exports"])

DEFAULT_RANGE = timedelta(days=30)
PAGE = 500
CSV_HEADER = "time,device_id,metric,value,unit\n"


class CsvResponse(StreamingResponse):
    media_type = "text/csv"


class GeoJsonResponse(StreamingResponse):
    media_type = "application/geo+json"


# The CSV export includes decommissioned devices unless told otherwise.
CsvSelection = Annotated[
    device_store.DeviceFilter, Depends(params.device_filter(by_id=True, decommissioned=True))
]
DeviceSelection = Annotated[device_store.DeviceFilter, Depends(params.device_filter(by_id=True))]


async def _all_devices(conn: AsyncConn, where: device_store.DeviceFilter) -> list[Device]:
    found: list[Device] = []
    after = None
    while True:
        page = await device_store.list_devices(conn, where, limit=PAGE * 10, after=after)
        found += page
        if len(page) < PAGE * 10:
            return found
        after = page[-1].device_id


@router.get(
    "/readings.csv",
    summary="Readings as CSV (streamed)",
    response_class=CsvResponse,
    responses={
        200: {
            "description": "One line per reading, device by device, metric by metric, "
            "in time order. Times in UTC (RFC 3339).",
            "content": {
                "text/csv": {
                    "schema": {"type": "string"},
                    "example": CSV_HEADER + "2026-01-01T00:00:00Z,sl-0042,power,41.5,W\n",
                }
            },
        },
        **responses(401, 404, 422),
    },
)
async def readings_csv(
    conn: DbConn,
    settings: AppSettings,
    profiles: Profiles,
    where: CsvSelection,
    metric: Metrics = None,
    start: From = None,
    end: To = None,
    tz: Tz = None,
) -> CsvResponse:
    """The readings of the selected devices (all by default) in `[from, to)`,
    at most `HUB_EXPORT_MAX_RANGE_DAYS` long (default: the last 30 days). Only the
    devices whose own data the reader may read (docs/privacy.md): naming a personal
    device without the personal permission is a 403; each personal device exported
    with it is logged."""
    zone = params.zone(tz or settings.timezone)
    span = params.time_range(
        start,
        end,
        tz=zone,
        default=DEFAULT_RANGE,
        longest=timedelta(days=settings.export_max_range_days),
        hint="export in several parts",
    )
    selected = await _all_devices(conn, where)
    if where.device_ids:
        missing = sorted(set(where.device_ids) - {d.device_id for d in selected})
        if missing:
            raise NotFound(f"no device {', '.join(map(repr, missing))}")
        withheld = sorted(d.device_id for d in selected if not where.visibility.reads(d.data_class))
        if withheld:
            raise Forbidden(
                f"{', '.join(map(repr, withheld))}: personal data, served only as aggregates "
                "unless the key has the personal permission (docs/privacy.md)"
            )
    selected = [d for d in selected if where.visibility.reads(d.data_class)]
    units = {
        (d.device_id, name): m.unit
        for d in selected
        if (p := profiles.get(d.profile)) is not None
        for name, m in p.metrics.items()
    }
    lines = _csv_lines(
        settings,
        [d.id for d in selected],
        sorted(set(metric)) if metric else None,
        span.start,
        span.end,
        units,
        _Audit(
            where.visibility,
            {d.device_id for d in selected if where.visibility.logs(d.data_class)},
            f"GET /api/v1/exports/readings.csv {span.start.isoformat()}/{span.end.isoformat()}",
        ),
    )
    stamp = f"{span.start:%Y%m%d}-{span.end:%Y%m%d}"
    return CsvResponse(
        lines,
        headers={"Content-Disposition": f'attachment; filename="readings-{stamp}.csv"'},
    )


async def _csv_lines(
    settings: Settings,
    devices: list[int],
    metrics: list[str] | None,
    start: datetime,
    end: datetime,
    units: dict[tuple[str, str], str],
    audit: _Audit,
) -> AsyncIterator[str]:
    yield CSV_HEADER
    if not devices:
        return
    rows = 0
    per_device: dict[str, int] = dict.fromkeys(audit.devices, 0)
    try:
        async with await aconnect(settings.database_url, "export") as conn:
            async for device_id, block in store.stream_export_csv(
                conn, devices, metrics=metrics, start=start, end=end, units=units
            ):
                lines = block.count("\n")
                rows += lines
                if device_id in per_device:
                    per_device[device_id] += lines
                yield block
    finally:
        log.info("CSV export: %d readings of %d devices", rows, len(devices))
        # Also when the download was cut short: what was sent is logged.
        await record_now(
            settings.database_url,
            audit.vis,
            [Read(device, audit.what, n) for device, n in sorted(per_device.items())],
        )


class _Audit:
    """Which exported devices go into the access log (hub.privacy.access_log)."""

    def __init__(self, vis: Visibility, devices: set[str], what: str) -> None:
        self.vis, self.devices, self.what = vis, devices, what


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


@router.get(
    "/devices.geojson",
    summary="Devices with their latest values as GeoJSON (streamed)",
    response_class=GeoJsonResponse,
    responses={
        200: {
            "description": "A FeatureCollection (RFC 7946): one Point feature per device "
            "(geometry null when its location is unknown), its latest values in "
            "`properties.latest`.",
            "content": {
                "application/geo+json": {
                    "schema": {"type": "object"},
                    "example": {
                        "type": "FeatureCollection",
                        "features": [
                            {
                                "type": "Feature",
                                "id": "sl-0042",
                                "geometry": {"type": "Point", "coordinates": [10.3951, 63.4305]},
                                "properties": {
                                    "device_id": "sl-0042",
                                    "profile": "street_light",
                                    "latest": {
                                        "power": {
                                            "time": "2026-01-01T00:00:00Z",
                                            "value": 41.5,
                                            "unit": "W",
                                        }
                                    },
                                },
                            }
                        ],
                    },
                }
            },
        },
        **responses(401, 422),
    },
)
async def devices_geojson(
    settings: AppSettings,
    profiles: Profiles,
    where: DeviceSelection,
) -> GeoJsonResponse:
    return GeoJsonResponse(
        _features(settings, where, profiles),
        headers={"Content-Disposition": 'attachment; filename="devices.geojson"'},
    )


async def _features(
    settings: Settings, where: device_store.DeviceFilter, profiles: dict[str, Profile]
) -> AsyncIterator[bytes]:
    yield b'{"type":"FeatureCollection","features":['
    first = True
    async with await aconnect(settings.database_url, "export") as conn:
        after = None
        while True:
            page = await device_store.list_devices(conn, where, limit=PAGE, after=after)
            if not page:
                break
            latest: dict[int, dict[str, Any]] = {d.id: {} for d in page}
            vis = where.visibility
            own = [d.id for d in page if vis.reads(d.data_class)]
            for v in await store.latest(conn, own):
                latest[v.device][v.metric] = {"time": _iso(v.time), "value": v.value}
            await record_now(
                settings.database_url,
                vis,
                [
                    Read(d.device_id, "GET /api/v1/exports/devices.geojson", len(latest[d.id]))
                    for d in page
                    if vis.logs(d.data_class)
                ],
            )
            parts = []
            for d in page:
                spec = profiles.get(d.profile)
                for name, value in latest[d.id].items():
                    metric = spec.metrics.get(name) if spec else None
                    value["unit"] = metric.unit if metric else None
                parts.append(orjson.dumps(_feature(d, latest[d.id])))
            yield (b"" if first else b",") + b",".join(parts)
            first = False
            after = page[-1].device_id
    yield b"]}"


def _feature(d: Device, latest: dict[str, Any]) -> dict[str, Any]:
    geometry = (
        {"type": "Point", "coordinates": [d.lon, d.lat]}
        if d.lat is not None and d.lon is not None
        else None
    )
    return {
        "type": "Feature",
        "id": d.device_id,
        "geometry": geometry,
        "properties": {
            "device_id": d.device_id,
            "profile": d.profile,
            "name": d.name,
            "district": d.district,
            "status": d.status,
            "last_seen": _iso(d.last_seen) if d.last_seen else None,
            "decommissioned_at": _iso(d.decommissioned_at) if d.decommissioned_at else None,
            "latest": latest,
        },
    }
