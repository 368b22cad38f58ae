"""The FastAPI application: built by :func:`create_app` from the settings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from psycopg_pool import AsyncConnectionPool

from hub import __version__, dashboard
from hub.api import ingest, ops, problems, stream
from hub.api.metrics import LatencyMiddleware
from hub.api.openapi import build_openapi
from hub.api.replica import ReadRoute
from hub.api.routes import API_ROUTERS
from hub.api.single_query import refuse_repeated_single_values
from hub.config import Settings
from hub.events import EventBus
from hub.ngsi import wiring as ngsi
from hub.privacy.classes import classes_of
from hub.privacy.directory import ClassDirectory
from hub.profiles import Profile, load_profiles
from hub.sta import router as sta
from hub.store.db import connect_kwargs

BrokerCheck = Callable[[], bool]


async def _open_pool(url: str, purpose: str, check: bool = False) -> AsyncConnectionPool[Any]:
    """``check``: each connection is tried when taken (a replica that went away is
    noticed at once, not by the request's first query)."""
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        url,
        kwargs=connect_kwargs(purpose),
        min_size=1,
        max_size=8,
        open=False,
        timeout=5,
        check=AsyncConnectionPool.check_connection if check else None,
    )
    await pool.open(wait=False)
    return pool


def create_app(
    settings: Settings,
    *,
    broker_connected: BrokerCheck | None = None,
    bus: EventBus | None = None,
    profiles: dict[str, Profile] | None = None,
    api: bool = True,
    classes: ClassDirectory | None = None,
) -> FastAPI:
    """The API app.

    Args:
        settings: the hub's settings.
        broker_connected: tells /readyz whether the ingest is connected to the broker
            (without it, /readyz tries a TCP connection to the broker).
        bus: committed readings and alert changes, for the live stream.
        profiles: the device profiles (loaded from ``settings.profiles_dir`` if not given).
        api: serve the API and the dashboard (off: /healthz, /readyz and /metrics only).
        classes: the devices' data classes (hub.privacy.directory), shared with the
            ingest's listeners; the app keeps it fresh while it runs.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await _open_pool(settings.database_url, "api")
        app.state.pool = pool
        # GET requests read from a replica when one is configured, and from the
        # primary while the replica does not answer (hub.api.replica).
        replica = None
        if settings.database_read_url:
            replica = await _open_pool(settings.database_read_url, "api-read", check=True)
        app.state.reads = reads = ReadRoute(pool, replica)
        tasks = [
            asyncio.create_task(
                app.state.classes.run(settings.database_url, settings.device_directory_refresh_s),
                name="data-classes",
            )
        ]
        if replica is not None:
            tasks.append(asyncio.create_task(reads.watch(), name="read-replica"))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            stream.close_streams(app)
            if replica is not None:
                await replica.close()
            await pool.close()

    app = FastAPI(
        title="Sensor hub API",
        version=__version__,
        summary="Open data of the municipality's street lights, water meters and air monitors.",
        lifespan=lifespan,
        dependencies=[Depends(refuse_repeated_single_values)],
    )
    app.state.settings = settings
    app.state.broker_connected = broker_connected
    app.state.bus = bus if bus is not None else EventBus()
    app.state.ingest_gate = None  # set by hub.commands.service when this process runs the ingest
    app.state.ingest_keys = {}  # hub.api.ingest_auth: keys found lately, by hash
    # set by hub.commands.service to the alert engine's Engine.rules_changed
    app.state.rules_changed = lambda: None
    app.state.profiles = profiles if profiles is not None else load_profiles(settings.profiles_dir)
    app.state.classes = classes or ClassDirectory(classes_of(app.state.profiles))
    app.include_router(ops.router)
    if api:
        for router in API_ROUTERS:
            app.include_router(router)
    ingest.install(app)  # the HTTP ingest's routes first, without FastAPI's machinery
    if api:
        ngsi.install(app)
        app.include_router(sta.router)
        dashboard.install(app)
    problems.install(app)
    stream.install(app)
    app.add_middleware(LatencyMiddleware)
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
    return app
