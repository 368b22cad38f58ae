"""Prometheus metrics of the API: request latency by route, and alerts by state."""

from __future__ import annotations

import time

from prometheus_client import Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.store import counts
from hub.store.db import AsyncConn

REQUEST_SECONDS = Histogram(
    "hub_api_request_seconds",
    "Time from request to the start of the response, by method, route template and status",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
ALERTS = Gauge("hub_alerts", "Alerts by state (counted when /metrics is scraped)", ["state"])
ALERT_STATES = ("open", "acknowledged", "resolved")


class LatencyMiddleware:
    """Times every HTTP request up to its response start (so a live stream counts
    the time to open it, not how long it stayed open)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        observed = False

        def observe(status: int) -> None:
            nonlocal observed
            observed = True
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            REQUEST_SECONDS.labels(scope["method"], template, str(status)).observe(
                time.perf_counter() - started
            )

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start" and not observed:
                observe(int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            if not observed:
                observe(500)


async def refresh_alert_gauge(conn: AsyncConn) -> None:
    """Count alerts by state into the gauge, just before a scrape."""
    by_state = await counts.alerts_by_state(conn)
    for state in ALERT_STATES:
        ALERTS.labels(state).set(by_state.get(state, 0))
