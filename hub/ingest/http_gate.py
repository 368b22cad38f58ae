"""Admission of HTTP ingest requests into the pipeline, with a bound.

A request is taken only while the ingest runs, the database is reachable and
fewer than ``HUB_INGEST_HTTP_QUEUE`` requests wait for their batch; otherwise it
is refused (the API answers 503 with ``Retry-After``), so nothing is taken in
that the hub could not keep, and memory stays flat while the database is down.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from hub.ingest.submissions import Submission
from hub.payloads import Origin

if TYPE_CHECKING:
    from hub.ingest.pipeline import Ingest


class GateClosed(Exception):
    """The ingest cannot take a request now; ``detail`` says why."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class HttpGate:
    """Hands HTTP ingest requests to :class:`~hub.ingest.pipeline.Ingest`.

    Args:
        ingest: the running ingest.
        limit: requests waiting for their batch at most.
        wait_s: how long a request waits for its commit before it is answered 503.
    """

    def __init__(self, ingest: Ingest, *, limit: int, wait_s: float) -> None:
        self._ingest = ingest
        self._limit = limit
        self.wait_s = wait_s
        self.waiting = 0

    def take(self, payload: bytes, origin: Origin) -> tuple[Submission, asyncio.Future[bool]]:
        """Submit one message; the future is True once its batch is committed."""
        ingest = self._ingest
        if not ingest.running:
            raise GateClosed("the ingest is not running yet; send the message again later")
        if ingest.database_unreachable:
            raise GateClosed("the database is not reachable; send the message again later")
        if self.waiting >= self._limit:
            raise GateClosed(f"{self.waiting} messages wait for the database; try again later")
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def done(_: Submission, committed: bool) -> None:
            self.waiting -= 1
            if not future.done():
                future.set_result(committed)

        submission = Submission(payload, origin, done)
        self.waiting += 1
        ingest.submit(submission)
        return submission, future
