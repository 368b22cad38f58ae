"""Which devices the committed batches changed: an ingest commit listener that
costs the ingest one dictionary update per device of a batch.

Changes are coalesced per device (a device changed ten times is one entry) and
bounded: past ``bound`` devices the entries are dropped and ``overflowed`` is
set, so the consumer falls back to the database (the push rescans; subscription
matching counts and logs the loss). The ingest is never slowed or stopped.
"""

from __future__ import annotations

import asyncio
import time

from hub.model import Outcome


class ChangeFeed:
    """Args:
    bound: devices held at most.
    metrics: also keep which metrics of each device changed (costs one set
        update per reading; switched on only while someone needs it).
    """

    def __init__(self, bound: int, *, metrics: bool = False) -> None:
        self.bound = bound
        self.metrics = metrics
        self.enabled = True
        self.overflowed = False
        self.oldest: float | None = None  # monotonic time of the oldest change held
        self.wakeup = asyncio.Event()
        self._pending: dict[str, set[str]] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def __call__(self, outcome: Outcome) -> None:
        if not self.enabled:
            return
        pending = self._pending
        if self.metrics:
            for reading in outcome.readings:
                changed = pending.get(reading.device_id)
                if changed is None:
                    pending[reading.device_id] = {reading.metric}
                else:
                    changed.add(reading.metric)
        else:
            for device_id in outcome.profiles:
                pending.setdefault(device_id, set())
        for device_id, _ in outcome.statuses:
            pending.setdefault(device_id, set()).add("status")
        if not pending:
            return
        if self.oldest is None:
            self.oldest = time.monotonic()
        if len(pending) > self.bound:
            pending.clear()
            self.overflowed = True
        self.wakeup.set()

    def merge(self, device_ids: list[str], overflowed: bool, oldest: float | None) -> None:
        """Add changes taken from another feed (the push process's side of the pipe)."""
        pending = self._pending
        for device_id in device_ids:
            pending.setdefault(device_id, set())
        if oldest is not None and (self.oldest is None or oldest < self.oldest):
            self.oldest = oldest
        if overflowed or len(pending) > self.bound:
            pending.clear()
            self.overflowed = True
        if pending or self.overflowed:
            self.wakeup.set()

    def take(self) -> tuple[dict[str, set[str]], bool, float | None]:
        """The changes so far, whether some were dropped, and when the oldest came."""
        changes, overflowed, oldest = self._pending, self.overflowed, self.oldest
        self._pending, self.overflowed, self.oldest = {}, False, None
        self.wakeup.clear()
        return changes, overflowed, oldest
