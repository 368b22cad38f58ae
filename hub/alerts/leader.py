"""Work that must run in one hub process only, chosen by a PostgreSQL session
advisory lock: the alert engine, and the NGSI-LD push.

Every process that may run the work runs a :class:`Leadership`: it holds its own
connection and tries ``pg_try_advisory_lock`` on it every half evaluation interval.
The one that gets the lock builds a fresh worker (the alert engine rebuilds its
state from the database; the push rescans) and runs it; the others stand by. The
lock belongs to the session, so it goes when the holder dies (the server sees the
socket close) or when its host stops answering (server-side TCP keepalives on that
session, :func:`server_drop_s`). The holder checks its lock connection every
:func:`check_period` and stops its worker when a check fails or takes longer than
:func:`check_timeout`, before the server can give the lock away.
docs/adr/0012-one-alert-engine-by-advisory-lock.md has the alternatives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol, TypeVar

import psycopg
from prometheus_client import Counter, Gauge

from hub.backoff import backoff_delay
from hub.store import cluster
from hub.store.db import AsyncConn, aconnect, first_line

log = logging.getLogger(__name__)

ACTIVE = Gauge("hub_alerts_engine_active", "1 while this process runs the one alert engine")
LEADING = Gauge(
    "hub_cluster_leading", "1 while this process holds the lock of that one-process work", ["work"]
)
TAKEOVERS = Counter(
    "hub_cluster_takeovers", "Times this process took the lock of that one-process work", ["work"]
)
# A check or a try that hangs is treated as a lost connection.
_LOST = (psycopg.OperationalError, psycopg.InterfaceError, TimeoutError)
T = TypeVar("T")


class Worker(Protocol):
    async def run(self) -> None: ...


def keepalive_idle_s(interval_s: float) -> int:
    """Seconds of silence before the server probes the lock session."""
    return max(2, int(interval_s / 2))


def server_drop_s(interval_s: float) -> float:
    """When the server ends a lock session whose host went silent: idle + 2 probes, 1 s apart."""
    return keepalive_idle_s(interval_s) + 2.0


def check_period(interval_s: float) -> float:
    """How often the holder checks its lock connection."""
    return max(0.2, min(1.0, interval_s / 4))


def check_timeout(interval_s: float) -> float:
    """How long one check may take. The holder stops its worker at most a period and
    a timeout after its link went, well before :func:`server_drop_s` (at least 4 s)."""
    return min(2.0, server_drop_s(interval_s) / 2 - check_period(interval_s))


def poll_period(interval_s: float) -> float:
    """How often a standby tries the lock: half an evaluation interval."""
    return max(0.1, interval_s / 2)


class Leadership:
    """Args:
    url: PostgreSQL URL (the primary; libpq multi-host URLs find it).
    interval_s: the engine's evaluation interval (``HUB_ALERTS_INTERVAL_S``).
    make_worker: builds a fresh worker each time this process takes the lock.
    work: the name in the log and in the metrics' ``work`` label.
    key: the advisory lock key of that work.
    ready: awaited before the lock is first tried (the readings channel listening,
        so the worker misses nothing committed after its rebuild).
    """

    def __init__(
        self,
        url: str,
        interval_s: float,
        make_worker: Callable[[], Worker],
        *,
        work: str = "alerts",
        key: int = cluster.ENGINE_LOCK_KEY,
        ready: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self._url = url
        self._interval_s = interval_s
        self._make_worker = make_worker
        self._work = work
        self._key = key
        self._ready = ready
        self.active = False
        LEADING.labels(work).set(0)
        TAKEOVERS.labels(work)

    def _label(self) -> str:
        return "alert engine" if self._work == "alerts" else self._work

    async def run(self) -> None:
        """Stand by, lead, stand by again: until cancelled, whatever fails."""
        attempt = 0
        while True:
            if self._ready is not None:
                await self._ready()
            try:
                conn = await self._connect()
            except (*_LOST, OSError) as exc:
                attempt += 1
                if attempt == 1:
                    log.warning(
                        "%s standby: database unreachable: %s", self._label(), first_line(exc)
                    )
                await asyncio.sleep(backoff_delay(attempt, base=0.2, cap=5.0))
                continue
            attempt = 0
            try:
                await self._stand_by(conn)
                await self._lead(conn)
            except _LOST as exc:
                log.warning(
                    "%s lock connection lost: %s", self._label(), first_line(exc) or repr(exc)
                )
            except Exception:  # never leave this process without a standby
                log.exception("%s leadership failed; standing by again", self._label())
                await asyncio.sleep(poll_period(self._interval_s))
            finally:
                # Closing the session is what releases the lock (if it was ever granted).
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(1.0):
                        await conn.close()

    async def _connect(self) -> AsyncConn:
        async with asyncio.timeout(10):
            # Client-side too: unacknowledged data on a dead link fails the socket.
            conn = await aconnect(
                self._url,
                f"{self._work}-lock",
                autocommit=True,
                keepalives=1,
                keepalives_idle=keepalive_idle_s(self._interval_s),
                keepalives_interval=1,
                keepalives_count=2,
                tcp_user_timeout=int(1000 * check_timeout(self._interval_s)),
            )
            await cluster.keep_alive(conn, idle_s=keepalive_idle_s(self._interval_s), interval_s=1)
        return conn

    async def _stand_by(self, conn: AsyncConn) -> None:
        announced = False
        while True:
            # A try that hangs may have been granted: the caller closes the session.
            if await _bounded(cluster.try_lock(conn, self._key), check_timeout(self._interval_s)):
                return
            if not announced:
                log.info("%s standing by (another process holds the lock)", self._label())
                announced = True
            await asyncio.sleep(poll_period(self._interval_s))

    async def _lead(self, conn: AsyncConn) -> None:
        period, limit = check_period(self._interval_s), check_timeout(self._interval_s)
        task = asyncio.create_task(self._make_worker().run(), name=self._work)
        self._set_active(True)
        TAKEOVERS.labels(self._work).inc()
        log.info("%s active (advisory lock held)", self._label())
        try:
            while not task.done():
                done, _ = await asyncio.wait({task}, timeout=period)
                if done:
                    break
                try:
                    await _bounded(cluster.alive(conn), limit)
                except _LOST as exc:
                    raise psycopg.OperationalError(f"lock check failed: {exc!r}") from exc
        finally:
            if not task.done():
                task.cancel()
            # Once cancelled the worker evaluates and sends nothing more; its queries on
            # a dead link may keep psycopg busy for seconds (it tries to cancel them at
            # the server first), which must not hold the step-down.
            await asyncio.wait({task}, timeout=1.0)
            self._set_active(False)
            log.info("%s stepped down", self._label())
        # The worker ended by itself (it logged why): give the lock to another process.
        await asyncio.sleep(poll_period(self._interval_s))

    def _set_active(self, active: bool) -> None:
        self.active = active
        LEADING.labels(self._work).set(1 if active else 0)
        if self._work == "alerts":
            ACTIVE.set(1 if active else 0)


async def _bounded(query: Coroutine[object, object, T], limit: float) -> T:
    """The query's result, or TimeoutError after ``limit`` seconds *at once*: unlike
    ``asyncio.timeout``, it does not wait for the cancelled query to end (psycopg
    first tries to cancel it at the server, up to 10 s on a dead link)."""
    task = asyncio.ensure_future(query)
    try:
        done, _ = await asyncio.wait({task}, timeout=limit)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if not done:
        task.cancel()
        task.add_done_callback(_retrieve)
        raise TimeoutError(f"no answer within {limit:.1f} s")
    return task.result()


def _retrieve(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()  # a late failure of an abandoned query: nothing to do
