"""Connections: every hub connection works in UTC and names itself, and psycopg's
errors of reaching the database become the hub's own here (``hub.errors``):

- :class:`~hub.errors.StoreError` when the database cannot be reached, the
  connection drops, or the pool has no connection in time;
- :class:`~hub.errors.OutOfRangeError` for a value the database cannot hold.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from hub.errors import OutOfRangeError, StoreError

# The connection types of the whole hub (rows as tuples unless a cursor says otherwise).
Conn = psycopg.Connection[Any]
AsyncConn = psycopg.AsyncConnection[Any]

# What psycopg raises when the connection is gone (the loops that keep their own
# connection reconnect on these; everything else is a refusal).
CONNECTION_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError)

CONNECT_TIMEOUT_S = 5
UNREACHABLE = "cannot reach the database (HUB_DATABASE_URL)"


def connect_kwargs(purpose: str) -> dict[str, Any]:
    """libpq options shared by every connection of the hub.

    JIT compilation off: the hub's queries are short and many, and the planner's
    row estimates for per-series lookups over a hypertable run into billions, so
    PostgreSQL's default (``jit_above_cost``) spent 1.5 s compiling a query that
    runs in 16 ms (docs/performance.md, "A year of a town")."""
    return {
        "connect_timeout": CONNECT_TIMEOUT_S,
        "application_name": f"hub-{purpose}",
        "options": "-c TimeZone=UTC -c jit=off",
    }


def connect(url: str, purpose: str, **kwargs: Any) -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(url, **connect_kwargs(purpose), **kwargs)


async def aconnect(
    url: str, purpose: str, **kwargs: Any
) -> psycopg.AsyncConnection[tuple[Any, ...]]:
    return await psycopg.AsyncConnection.connect(url, **connect_kwargs(purpose), **kwargs)


@contextlib.contextmanager
def session(url: str, purpose: str, **kwargs: Any) -> Iterator[Conn]:
    """A connection for a command, committed when the block ends without error;
    StoreError if the database cannot be reached at any point."""
    try:
        with connect(url, purpose, **kwargs) as conn:
            yield conn
    except psycopg.OperationalError as exc:
        raise StoreError(f"{UNREACHABLE}: {exc}") from None


@contextlib.asynccontextmanager
async def pooled(
    pool: AsyncConnectionPool[Any], wait_s: float | None = None
) -> AsyncIterator[AsyncConn]:
    """A connection of the API's pool, one transaction; psycopg's errors of reaching
    the database, and values it cannot hold, become the hub's. ``wait_s``: how long
    to wait for a connection (the pool's own by default)."""
    try:
        async with pool.connection(wait_s) as conn:
            yield conn
    except (psycopg.OperationalError, PoolTimeout, psycopg.errors.DataError) as exc:
        raise translated(exc) from exc


def translated(exc: BaseException) -> BaseException:
    """The hub's error for one of psycopg's, or ``exc`` itself if it has none."""
    if isinstance(exc, psycopg.OperationalError | PoolTimeout):
        return StoreError(f"{UNREACHABLE}: {first_line(exc)}")
    if isinstance(exc, psycopg.errors.DataError):
        return OutOfRangeError(first_line(exc))
    return exc


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
