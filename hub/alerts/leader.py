"""One active alert engine among the hub processes: PostgreSQL session advisory lock.

Every process with the ``alerts`` role runs a :class:`Leadership`: it holds its own
connection and tries ``pg_try_advisory_lock`` on it every half evaluation interval.
The one that gets the lock builds a fresh :class:`~hub.alerts.engine.Engine` (which
rebuilds its state from the database) and runs it; the others stand by. The lock
belongs to the session, so it goes when the holder dies (the server sees the
socket close) or when its host stops answering (server-side TCP keepalives on that
session, a few seconds). The holder checks its lock connection every
:func:`check_period` and stops its engine when the check fails or hangs, before
the server can give the lock away. docs/adr/0012-one-alert-engine-by-advisory-lock.md
has the alternatives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

import psycopg
from prometheus_client import Counter, Gauge

from hub.backoff import backoff_delay
from hub.store import cluster
from hub.store.db import AsyncConn, aconnect, first_line

log = logging.getLogger(__name__)

ACTIVE = Gauge("hub_alerts_engine_active", "1 while this process runs the one alert engine")
TAKEOVERS = Counter("hub_alerts_engine_takeovers", "Times this process became the active engine")
_DB_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError)


class RunsEngine(Protocol):
    async def run(self) -> None: ...


def check_period(interval_s: float) -> float:
    """How often the holder checks its lock connection (and how long a check may take)."""
    return max(0.2, min(1.0, interval_s / 4))


def poll_period(interval_s: float) -> float:
    """How often a standby tries the lock: half an evaluation interval."""
    return max(0.1, interval_s / 2)


class Leadership:
    """Args:
    url: PostgreSQL URL (the primary; libpq multi-host URLs find it).
    interval_s: the engine's evaluation interval (``HUB_ALERTS_INTERVAL_S``).
    make_engine: builds a fresh engine each time this process becomes active.
    """

    def __init__(self, url: str, interval_s: float, make_engine: Callable[[], RunsEngine]) -> None:
        self._url = url
        self._interval_s = interval_s
        self._make_engine = make_engine
        self.active = False

    async def run(self) -> None:
        attempt = 0
        while True:
            try:
                conn = await self._connect()
            except _DB_ERRORS as exc:
                attempt += 1
                if attempt == 1:
                    log.warning("alert engine standby: database unreachable: %s", first_line(exc))
                await asyncio.sleep(backoff_delay(attempt, base=0.2, cap=5.0))
                continue
            attempt = 0
            try:
                await self._stand_by(conn)
                await self._lead(conn)
            except _DB_ERRORS as exc:
                log.warning("alert engine lock connection lost: %s", first_line(exc))
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.close(), 1.0)

    async def _connect(self) -> AsyncConn:
        conn = await aconnect(self._url, "alerts-lock", autocommit=True)
        idle = max(2, int(self._interval_s / 2))
        await cluster.keep_alive(conn, idle_s=idle, interval_s=1)
        return conn

    async def _stand_by(self, conn: AsyncConn) -> None:
        announced = False
        while not await asyncio.wait_for(cluster.try_lock(conn), poll_period(self._interval_s)):
            if not announced:
                log.info("alert engine standing by (another process holds the lock)")
                announced = True
            await asyncio.sleep(poll_period(self._interval_s))

    async def _lead(self, conn: AsyncConn) -> None:
        check = check_period(self._interval_s)
        engine_task = asyncio.create_task(self._make_engine().run(), name="alerts")
        self.active = True
        ACTIVE.set(1)
        TAKEOVERS.inc()
        log.info("alert engine active (advisory lock held)")
        try:
            while not engine_task.done():
                done, _ = await asyncio.wait({engine_task}, timeout=check)
                if done:
                    break
                try:
                    await asyncio.wait_for(cluster.alive(conn), check)
                except (*_DB_ERRORS, TimeoutError) as exc:
                    raise psycopg.OperationalError(f"lock check failed: {exc!r}") from exc
        finally:
            self.active = False
            ACTIVE.set(0)
            if not engine_task.done():
                engine_task.cancel()
            with contextlib.suppress(BaseException):
                await engine_task
            log.info("alert engine stepped down")
        # The engine ended by itself (it logged why): give the lock to another process.
        await asyncio.sleep(poll_period(self._interval_s))
