"""Messages that reach the ingest by other ways than the hub's own broker: extra
MQTT sources (``HUB_SOURCES``) and the HTTP ingest endpoints.

A :class:`Submission` goes through the same inbox, decode step, batches and
commit as a message of the hub's own broker; when its batch is committed (or
given up at shutdown) its ``on_done`` is called once with what became of it: the
decoded item or the dead letter, and the refusal if it was refused (by the
decode step or by the writer: unknown or decommissioned device, ...). An extra
MQTT source acknowledges then; an HTTP request answers then.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from hub.model import DeadLetter, Item, Outcome
from hub.payloads import Origin

# (what it decoded to, its refusal or None); committed is False when the hub stops
# before its batch was written.
Done = Callable[["Submission", bool], None]


class Submission:
    """One message of another source, on its way through the pipeline."""

    __slots__ = ("on_done", "origin", "payload", "refusal", "result")

    def __init__(self, payload: bytes, origin: Origin, on_done: Done) -> None:
        self.payload = payload
        self.origin = origin
        self.on_done = on_done
        self.result: Item | DeadLetter | None = None
        self.refusal: DeadLetter | None = None

    @property
    def received_at(self) -> datetime:
        return self.origin.received_at

    def finish(self, outcome: Outcome | None) -> None:
        """Its batch is committed (``outcome``), or will never be (None)."""
        result = self.result
        if type(result) is DeadLetter:
            self.refusal = result
        elif outcome is not None and result is not None:
            self.refusal = outcome.refused.get(id(result))
        self.on_done(self, outcome is not None)
