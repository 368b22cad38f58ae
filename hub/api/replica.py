"""Where the API's reads go: the replica (``HUB_DATABASE_READ_URL``) while it
answers, the primary while it does not.

A watcher asks the replica every ``PROBE_S`` seconds; a request that cannot get a
replica connection marks it down at once and is served by the primary, so a
replica that goes away costs a request at most ``CHECKOUT_S`` and the next
requests nothing. When the replica answers again, reads go back to it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from psycopg_pool import AsyncConnectionPool

from hub.errors import StoreError
from hub.store.db import AsyncConn, pooled

log = logging.getLogger(__name__)

PROBE_S = 2.0  # how often the replica is asked whether it answers
CHECKOUT_S = 1.0  # how long a request waits for a replica connection before the primary


class ReadRoute:
    """The pools GET requests may read from, and which of them is in use."""

    def __init__(
        self, primary: AsyncConnectionPool[Any], replica: AsyncConnectionPool[Any] | None
    ) -> None:
        self.primary = primary
        self.replica = replica
        self.replica_up = replica is not None

    @property
    def reads_from(self) -> str:
        return "replica" if self.replica is not None and self.replica_up else "primary"

    def mark(self, up: bool, reason: object = None) -> None:
        """What was just seen of the replica: reads go to it while it answers."""
        if up and not self.replica_up:
            log.info("read replica answers again: reads go back to it")
        elif not up and self.replica_up:
            log.warning("read replica unavailable, reading from the primary: %s", reason)
        self.replica_up = up

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConn]:
        """A read connection (one transaction): the replica's if it is up, else the
        primary's. Only getting the connection falls back; an error after that is
        the request's, as with the primary."""
        async with AsyncExitStack() as stack:
            conn = None
            if self.replica is not None and self.replica_up:
                try:
                    conn = await stack.enter_async_context(pooled(self.replica, CHECKOUT_S))
                except StoreError as exc:
                    self.mark(False, exc)
            if conn is None:
                conn = await stack.enter_async_context(pooled(self.primary))
            yield conn

    async def probe(self) -> bool:
        """Whether the replica answers now; updates where reads go."""
        if self.replica is None:
            return False
        try:
            async with asyncio.timeout(CHECKOUT_S * 2), pooled(self.replica, CHECKOUT_S) as conn:
                await conn.execute("SELECT 1")
        except Exception as exc:  # a broken connection of any kind: the replica is down
            self.mark(False, exc)
            return False
        self.mark(True)
        return True

    async def watch(self) -> None:
        """Probe the replica until cancelled."""
        while self.replica is not None:
            await self.probe()
            await asyncio.sleep(PROBE_S)
