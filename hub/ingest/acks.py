"""Acknowledgements in receive order, whatever order the batches commit in.

The collector numbers batches as it makes them; several writers commit them, so
batch 3 may be committed before batch 2. A message is acknowledged only once
its batch is committed, and never before a message received earlier: batch 3
waits until 2 is committed, then both are acknowledged, 2 first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from hub.ingest.mqtt import Inbound
from hub.ingest.submissions import Submission
from hub.model import Outcome

Entry = Inbound | Submission


class InOrderAcks:
    """Numbers batches and acknowledges committed ones in their numbering order.

    Args:
        ack: acknowledges the own broker session's messages of a batch, in order. A
            message of another source is told with ``Submission.finish(outcome)``.
    """

    def __init__(self, ack: Callable[[list[Inbound]], None]) -> None:
        self._ack = ack
        self._next_batch = 0  # number of the next batch the collector makes
        self._next_ack = 0  # number of the next batch to acknowledge
        self._committed: dict[int, tuple[Sequence[Entry], Outcome]] = {}

    def number(self) -> int:
        """The number of a new batch (0, 1, 2, ...)."""
        seq = self._next_batch
        self._next_batch += 1
        return seq

    def committed(self, seq: int, messages: Sequence[Entry], outcome: Outcome) -> int:
        """Batch ``seq`` is committed; acknowledge every batch now in order.
        Returns how many messages of the own session were acknowledged."""
        self._committed[seq] = (messages, outcome)
        acked = 0
        while self._next_ack in self._committed:
            done, done_outcome = self._committed.pop(self._next_ack)
            own = [m for m in done if type(m) is Inbound]
            if len(own) < len(done):
                for message in done:
                    if type(message) is not Inbound:
                        message.finish(done_outcome)  # type: ignore[union-attr]
            if own:
                self._ack(own)
                acked += len(own)
            self._next_ack += 1
        return acked

    def waiting(self) -> Iterator[Entry]:
        """Messages of committed batches still waiting for an earlier batch."""
        for messages, _ in self._committed.values():
            yield from messages

    def forget(self) -> None:
        """Drop what waits (at shutdown: never acknowledged, the broker resends)."""
        self._committed.clear()
