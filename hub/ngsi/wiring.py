"""Mounts the NGSI-LD routers and their error handler on the hub's app."""

from __future__ import annotations

from fastapi import FastAPI

from hub.ngsi import api, errors, subscriptions, temporal


def install(app: FastAPI) -> None:
    app.include_router(api.router)
    app.include_router(temporal.router)
    app.include_router(subscriptions.router)
    errors.install(app)
