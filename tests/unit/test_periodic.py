"""A periodic database job goes on after a round the database failed."""

from __future__ import annotations

import asyncio
import logging

from hub.devstack import free_port
from hub.periodic import every
from hub.store.db import AsyncConn


class _Skips(logging.Handler):
    """Sets ``twice`` once two rounds were logged as skipped."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []
        self.twice = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
        if sum("test job skipped" in m for m in self.messages) >= 2:
            self.twice.set()


async def test_a_failed_round_is_logged_as_skipped_and_the_next_one_tried() -> None:
    # Nothing listens on the port: every connection attempt fails.
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/none?connect_timeout=2"
    ran: list[AsyncConn] = []

    async def round_(conn: AsyncConn) -> None:
        ran.append(conn)

    log = logging.getLogger("test.periodic")
    skips = _Skips()
    log.addHandler(skips)
    job = asyncio.create_task(every(0.01, url, "test", round_, what="test job", log=log))
    try:
        async with asyncio.timeout(20):
            await skips.twice.wait()
        assert not job.done(), "the job ended on a failed round"
    finally:
        job.cancel()
        log.removeHandler(skips)
    assert ran == []
