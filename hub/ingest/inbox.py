"""The inbox: messages received and not yet in a batch, and the backpressure on
the hub's own broker session.

The own session's messages are bounded by ``limit`` (the MQTT receive maximum):
when that many wait, the session stops reading its socket (TCP pushes back and
the broker keeps the rest queued); once the collector has taken them down to
half, reading resumes. Messages of other sources (:class:`Submission`) are
bounded by their producers (an extra source pauses its own session, the HTTP
ingest answers 503), so the queue itself needs no bound of its own.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from hub.ingest.mqtt import Inbound
from hub.ingest.submissions import Submission

Entry = Inbound | Submission


class Reader(Protocol):
    """What the inbox pauses and resumes: the own broker session's reading."""

    @property
    def paused(self) -> bool: ...

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


class Inbox:
    """Received messages in receive order, with the pause/resume thresholds of
    the own session (pause at ``limit`` waiting, resume at ``limit // 2``)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.reader: Reader | None = None  # the own session, once it exists
        self.own_waiting = 0  # messages of the own session in the queue
        self._queue: asyncio.Queue[Entry] = asyncio.Queue()

    def qsize(self) -> int:
        return self._queue.qsize()

    def put(self, message: Inbound) -> None:
        """A message of the own session; reading pauses when ``limit`` wait."""
        self._queue.put_nowait(message)
        self.own_waiting += 1
        reader = self.reader
        if reader is not None and self.own_waiting >= self.limit:
            reader.pause_reading()

    def submit(self, submission: Submission) -> None:
        """A message of another source (its producer bounds how many wait)."""
        self._queue.put_nowait(submission)

    async def get(self) -> Entry:
        return self._taken(await self._queue.get())

    def get_nowait(self) -> Entry:
        """The next message; ``asyncio.QueueEmpty`` if none waits."""
        return self._taken(self._queue.get_nowait())

    def _taken(self, message: Entry) -> Entry:
        if type(message) is Inbound:
            self.own_waiting -= 1
            reader = self.reader
            if reader is not None and reader.paused and self.own_waiting <= self.limit // 2:
                reader.resume_reading()
        return message

    def drop_own(self) -> int:
        """The own session's connection ended: its waiting messages go (the broker
        sends them again, they were not acknowledged); others stay, in order.
        Returns how many were dropped."""
        kept: list[Submission] = []
        dropped = 0
        while not self._queue.empty():
            entry = self._queue.get_nowait()
            if type(entry) is Submission:
                kept.append(entry)
            else:
                dropped += 1
        for entry in kept:
            self._queue.put_nowait(entry)
        self.own_waiting -= dropped
        return dropped

    def drain(self) -> list[Entry]:
        """Everything still waiting, emptied out (at shutdown)."""
        entries = []
        while not self._queue.empty():
            entries.append(self._queue.get_nowait())
        self.own_waiting = 0
        return entries
