"""The routers mounted under /api/v1, in the order the docs show them."""

from __future__ import annotations

from fastapi import APIRouter

from hub.api import (
    access_log,
    aggregates,
    airquality,
    alerts,
    alerts_work,
    deadletters,
    devices,
    exports,
    ingest,
    keys,
    profiles,
    public,
    readings,
    replay,
    rules,
    stream,
    subjects,
)

API_ROUTERS: tuple[APIRouter, ...] = (
    ingest.router,  # first: matched most often (thousands of requests a second)
    devices.router,
    readings.router,
    alerts_work.router,  # before alerts: /alerts/export.csv is not an alert id
    alerts.router,
    airquality.router,
    rules.router,
    profiles.router,
    replay.router,  # before deadletters: /dead-letters/replay is not a letter's id
    deadletters.router,
    stream.router,
    exports.router,
    keys.router,
    aggregates.router,  # personal data as aggregates (docs/privacy.md)
    access_log.router,
    subjects.router,
    public.router,
)
