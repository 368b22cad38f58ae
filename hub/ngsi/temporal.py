"""NGSI-LD temporal API (ETSI GS CIM 009 clause 5.7.3-5.7.4, 6.18-6.19):
``/ngsi-ld/v1/temporal/entities`` and ``/{id}``, what a client of QuantumLeap or
Mintaka asks for, over the hub's readings.

``timerel`` (before, after, between) with ``timeAt``/``endTimeAt`` bounds the
observation times; ``lastN`` keeps the newest instances of each attribute;
``options=temporalValues`` gives ``[value, time]`` pairs. ``aggrMethods`` (avg,
min, max, sum, totalCount) with ``aggrPeriodDuration`` is served by the same
bucketing as ``/api/v1/devices/{id}/readings?bucket=`` (from the hourly and daily
rollups where the periods fit them, UTC-aligned), so both give the same values;
``P0D`` (the default) is one period over the whole range. Entity selection
(type, id, idPattern, q, geo-query) is that of ``/entities``, on the current
state.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from fastapi import APIRouter, Request, Response

from hub.api.deps import AppSettings, DbConn
from hub.api.privacy import Visible
from hub.ngsi import http, mapping
from hub.ngsi.api import Mapping, find_entity, log_reads, select
from hub.ngsi.errors import BadRequestData, OperationNotSupported, TooManyResults, responses
from hub.ngsi.mapping import Entity, Mapper, Target
from hub.store import ngsi as store
from hub.store import readings

router = APIRouter(prefix="/ngsi-ld/v1/temporal", tags=["NGSI-LD temporal"])

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
AGGREGATES: Final = {"avg": "avg", "min": "min", "max": "max", "sum": "sum", "totalCount": "count"}
_DURATION = re.compile(
    r"^P(?:(?P<w>\d+)W|(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?)$"
)


def _instant(text: str, name: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequestData(f"{name}: not an ISO 8601 date-time: {text!r}") from None
    if value.tzinfo is None:
        raise BadRequestData(f"{name}: needs a time zone, like 2026-01-01T00:00:00Z")
    return value.astimezone(UTC)


def time_range(request: Request) -> tuple[datetime, datetime, bool]:
    """[start, end) of the temporal query, and whether the client bounded both ends."""
    timerel = http.one(request, "timerel")
    at = http.one(request, "timeAt")
    end_at = http.one(request, "endTimeAt")
    prop = http.one(request, "timeproperty")
    if prop not in (None, "observedAt"):
        raise OperationNotSupported("timeproperty: the hub keeps observedAt only")
    later = datetime.now(UTC) + timedelta(days=1)
    if timerel is None:
        if at is not None or end_at is not None:
            raise BadRequestData("timeAt needs timerel (before, after or between)")
        return EPOCH, later, False
    if timerel not in ("before", "after", "between"):
        raise BadRequestData("timerel: must be before, after or between")
    if at is None:
        raise BadRequestData(f"timerel={timerel} needs timeAt")
    start = _instant(at, "timeAt")
    if timerel == "before":
        return EPOCH, start, False
    if timerel == "after":
        return start, later, False
    if end_at is None:
        raise BadRequestData("timerel=between needs endTimeAt")
    end = _instant(end_at, "endTimeAt")
    if end <= start:
        raise BadRequestData("endTimeAt: must be after timeAt")
    return start, end, True


def period(text: str | None) -> timedelta:
    """``aggrPeriodDuration`` (ISO 8601); zero means the whole range."""
    if text is None:
        return timedelta(0)
    match = _DURATION.match(text)
    if match is None or text in ("P", "PT"):
        if re.match(r"^P(\d+Y)?(\d+M)?", text) and ("Y" in text or "M" in text.split("T")[0]):
            raise OperationNotSupported(
                "aggrPeriodDuration: months and years are not supported; use days or weeks"
            )
        raise BadRequestData(f"aggrPeriodDuration: not an ISO 8601 duration: {text!r}")
    parts = {k: int(v) if v else 0 for k, v in match.groupdict().items()}
    width = timedelta(
        weeks=parts["w"], days=parts["d"], hours=parts["h"], minutes=parts["m"], seconds=parts["s"]
    )
    if width and width % timedelta(minutes=1):
        raise OperationNotSupported("aggrPeriodDuration: must be whole minutes")
    if width > readings.DAY * 366:
        raise BadRequestData("aggrPeriodDuration: at most 366 days")
    return width


def _targets(
    mapper: Mapper, entity: Entity, profile: str, attrs: list[str] | None
) -> dict[str, Target]:
    targets = mapper.metrics_of(str(entity["type"]), profile)
    return {a: t for a, t in targets.items() if attrs is None or a in attrs}


async def temporal_entity(
    conn: DbConn,
    mapper: Mapper,
    entity: Entity,
    located: store.Located,
    request: Request,
    *,
    budget: int,
) -> tuple[Entity, int]:
    """The temporal representation of one entity and the values it holds."""
    opts = http.options(request, allowed=("temporalValues", "aggregatedValues"))
    attrs = http.terms(request, "attrs") or None
    targets = _targets(mapper, entity, located.snapshot.profile, attrs)
    out: Entity = {"id": entity["id"], "type": entity["type"]}
    if not targets:
        return out, 0
    start, end, bounded = time_range(request)
    methods = http.terms(request, "aggrMethods")
    metrics = sorted({t.metric.name for t in targets.values()})
    by_metric = {t.metric.name: (a, t) for a, t in targets.items()}
    if methods or opts.aggregated:
        return await _aggregated(
            conn, located, request, out, by_metric, metrics, methods, start, end, bounded, budget
        )
    last_n = (
        http.integer(request, "lastN", 0, low=1, high=budget) if http.one(request, "lastN") else 0
    )
    history = await store.history(
        conn, located.pk, metrics=metrics, start=start, end=end, n=last_n or budget + 1
    )
    used = 0
    for metric, points in sorted(history.items()):
        attr, target = by_metric[metric]
        used += len(points)
        if used > budget:
            raise TooManyResults(
                f"more than {budget} values: narrow timeAt/endTimeAt, ask for lastN, "
                "or aggregate with aggrMethods"
            )
        if opts.temporal_values:
            out[attr] = {
                "type": "Property",
                "values": [[target.convert(v), mapping.iso(t)] for t, v in points],
            }
        else:
            unit = target.unit_code
            out[attr] = [
                {
                    "type": "Property",
                    "value": target.convert(v),
                    "observedAt": mapping.iso(t),
                    **({"unitCode": unit} if unit else {}),
                }
                for t, v in points
            ]
    return out, used


async def _aggregated(
    conn: DbConn,
    located: store.Located,
    request: Request,
    out: Entity,
    by_metric: dict[str, tuple[str, Target]],
    metrics: list[str],
    methods: list[str],
    start: datetime,
    end: datetime,
    bounded: bool,
    budget: int,
) -> tuple[Entity, int]:
    if not methods:
        raise BadRequestData("aggregatedValues needs aggrMethods (avg, min, max, sum, totalCount)")
    for method in methods:
        if method not in AGGREGATES:
            raise OperationNotSupported(
                f"aggrMethods: {method!r} is not supported (avg, min, max, sum, totalCount)"
            )
    if not bounded:
        raise BadRequestData("aggrMethods need a closed range: timerel=between, timeAt, endTimeAt")
    width = period(http.one(request, "aggrPeriodDuration"))
    result: dict[str, dict[str, list[list[Any]]]] = {}
    used = 0
    if not width:
        sums = await store.totals(conn, located.pk, metrics=metrics, start=start, end=end)
        for metric, values in sums.items():
            result[metric] = {
                m: [[values[AGGREGATES[m]], mapping.iso(start), mapping.iso(end)]] for m in methods
            }
            used += len(methods)
    else:
        grid = readings.make_grid(width, "UTC", start, end)
        if grid.buckets * len(metrics) * len(methods) > budget:
            raise TooManyResults(
                f"{grid.buckets} periods x {len(metrics)} attributes x {len(methods)} methods "
                f"is more than {budget} values: choose a longer aggrPeriodDuration"
            )
        for method in methods:
            points = await readings.buckets(
                conn, located.pk, metrics=metrics, grid=grid, aggregate=AGGREGATES[method]
            )
            for p in points:
                result.setdefault(p.metric, {}).setdefault(method, []).append(
                    [p.value, mapping.iso(p.time), mapping.iso(p.time + width)]
                )
                used += 1
    for metric, per_method in sorted(result.items()):
        attr, target = by_metric[metric]
        body: dict[str, Any] = {"type": "Property"}
        for method, rows in per_method.items():
            if method != "totalCount" and not target.numeric:
                continue
            body[method] = (
                rows if method == "totalCount" else [[target.scale(v), s, e] for v, s, e in rows]
            )
        out[attr] = body
    return out, used


@router.get(
    "/entities",
    summary="Temporal evolution of entities",
    responses=responses(400, 401, 403, 406, 422),
)
async def query_temporal(
    request: Request,
    conn: DbConn,
    vis: Visible,
    mapper: Mapping,
    settings: AppSettings,
    _selection: http.Selected,
    _temporal: http.TemporalQuery,
    _paging: http.Paged,
) -> Response:
    """Attribute instances (or aggregates) of the selected entities, by entity id."""
    time_range(request)  # a bad range is an error even when nothing matches
    size, skip, counted = http.paging(request, low=1)
    budget = settings.api_max_rows
    page: list[Entity] = []
    selected = await select(conn, mapper, request, vis)
    shown = selected[skip : skip + size]
    await log_reads(conn, vis, [d.snapshot.device_id for _, d in shown], request)
    for entity, located in shown:
        temporal, used = await temporal_entity(
            conn, mapper, entity, located, request, budget=budget
        )
        budget -= used
        page.append(temporal)
    headers = {"NGSILD-Results-Count": str(len(selected))} if counted else {}
    return http.respond(request, page, headers=headers, geo=False)


@router.get(
    "/entities/{entity_id:path}",
    summary="Temporal evolution of one entity",
    responses=responses(400, 401, 403, 404, 406, 422),
)
async def retrieve_temporal(
    entity_id: str,
    request: Request,
    conn: DbConn,
    vis: Visible,
    mapper: Mapping,
    settings: AppSettings,
    _temporal: http.TemporalQuery,
) -> Response:
    time_range(request)
    entity, located = await find_entity(conn, mapper, entity_id, vis)
    await log_reads(conn, vis, [located.snapshot.device_id], request)
    temporal, _used = await temporal_entity(
        conn, mapper, entity, located, request, budget=settings.api_max_rows
    )
    return http.respond(request, temporal, geo=False)
