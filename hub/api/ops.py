"""Operations endpoints: liveness, readiness and storage level."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from hub.api.metrics import refresh_alert_gauge
from hub.api.replica import CHECKOUT_S
from hub.privacy.policy import exposure
from hub.store import cluster, queries_meta
from hub.store.db import pooled

log = logging.getLogger(__name__)

router = APIRouter(tags=["ops"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    database: bool
    broker: bool
    storage: str | None
    detail: dict[str, Any] | None = None
    replica: bool | None = None  # the read replica answers (None: no HUB_DATABASE_READ_URL)
    replica_lag_s: float | None = None  # seconds its replay is behind the primary
    reads_from: str = "primary"  # where GET requests read now: replica or primary


@router.get("/healthz", response_model=Health, summary="The process is up")
async def healthz() -> Health:
    return Health(status="ok")


async def _broker_reachable(url: str) -> bool:
    parts = urlsplit(url)
    port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(parts.hostname or "localhost", port), 2
        )
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Database and broker reachable; storage level plain or timescale",
    responses={503: {"model": Readiness, "description": "A dependency is not reachable"}},
)
async def readyz(request: Request) -> Any:
    pool = request.app.state.pool
    storage: str | None = None
    database = False
    try:
        async with asyncio.timeout(3), pool.connection() as conn:
            storage = await queries_meta.storage_level(conn)
            database = True
    except Exception:  # any failure means "not ready"; the reason is in the server log
        database = False
    replica: bool | None = None
    lag: float | None = None
    reads = request.app.state.reads
    if reads.replica is not None:  # what this check sees also decides where reads go
        try:
            async with asyncio.timeout(3), pooled(reads.replica, CHECKOUT_S) as conn:
                storage = storage or await queries_meta.storage_level(conn)
                lag = await cluster.replica_lag(conn)
            replica = True
        except Exception as exc:
            replica = False
            reads.mark(False, exc)
        else:
            reads.mark(True)
    check = request.app.state.broker_connected
    broker = (
        check()
        if check is not None
        else await _broker_reachable(request.app.state.settings.mqtt_url)
    )
    # A process without the ingest role needs no broker, and with a replica it is
    # ready to answer reads while the primary is away.
    ingest = request.app.state.settings.has_role("ingest")
    ready = (
        (database or (bool(replica) and not ingest))
        and (broker or not ingest)
        and storage is not None
    )
    # Background work that does not decide readiness (e.g. the NGSI-LD push) says how it is.
    details = getattr(request.app.state, "readiness_details", None) or {}
    body = Readiness(
        status="ready" if ready else "not ready",
        database=database,
        broker=broker,
        storage=storage,
        detail={
            **{name: describe() for name, describe in details.items()},
            # What open-data mode exposes of each data class (docs/privacy.md).
            "privacy": {
                "open_data": request.app.state.settings.open_data,
                "classes": exposure(request.app.state.settings),
            },
        },
        replica=replica,
        replica_lag_s=lag,
        reads_from=reads.reads_from,
    )
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get(
    "/metrics",
    summary="Prometheus metrics: ingest, dead letters, alerts by state, API latency",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
async def prometheus_metrics(request: Request) -> Response:
    try:
        async with asyncio.timeout(3), request.app.state.pool.connection() as conn:
            await refresh_alert_gauge(conn)
    except Exception:  # the scrape still shows the rest; readiness reports the database
        log.warning("alerts by state not counted: database unavailable", exc_info=False)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
