"""A periodic database job: one round on a fresh autocommit connection every
``interval_s`` seconds, until cancelled. A round the database fails is logged as
skipped and the next one tried; the job itself never ends on such an error.
(The upkeep's loops, hub.cluster.maintenance.)"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import psycopg

from hub.store.db import AsyncConn, aconnect

Round = Callable[[AsyncConn], Awaitable[None]]


async def every(
    interval_s: float,
    url: str,
    purpose: str,
    round_: Round,
    *,
    what: str,
    log: logging.Logger,
    errors: tuple[type[BaseException], ...] = (psycopg.OperationalError,),
) -> None:
    """Run ``round_`` now and every ``interval_s``; ``errors`` skip a round, logged
    on ``log`` as "``what`` skipped: reason"."""
    while True:
        try:
            async with await aconnect(url, purpose, autocommit=True) as conn:
                await round_(conn)
        except errors as exc:
            log.warning("%s skipped: %s", what, exc)
        await asyncio.sleep(interval_s)
