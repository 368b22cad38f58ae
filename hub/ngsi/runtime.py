"""The NGSI-LD background work of a ``hub run`` process: subscription matching and
delivery always, the push to a context broker when ``HUB_NGSI_LD_BROKER_URL`` is set
(in a process of its own, :mod:`hub.ngsi.push_process`). Both take the ingest's
committed changes through their own bounded feeds."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from hub.config import Settings
from hub.model import Outcome
from hub.ngsi.changes import ChangeFeed
from hub.ngsi.mapping import Mapper
from hub.ngsi.notify import Matcher, Sender
from hub.ngsi.push_process import PushProcess, keep_running
from hub.profiles import Profile

# Devices waiting for subscription matching, at most (past it: counted and logged).
MATCH_QUEUE = 100_000


class NgsiRuntime:
    def __init__(self, settings: Settings, profiles: dict[str, Profile]) -> None:
        mapper = Mapper(profiles)
        self.match_feed = ChangeFeed(MATCH_QUEUE, metrics=True)
        self.match_feed.enabled = False  # until a live subscription is loaded
        self.matcher = Matcher(settings, mapper, self.match_feed)
        self.sender = Sender(settings, self.matcher.wakeup)
        self.push_feed: ChangeFeed | None = None
        self.pusher: PushProcess | None = None
        if settings.ngsi_ld_broker_url:
            self.push_feed = ChangeFeed(settings.ngsi_ld_push_queue)
            self.pusher = PushProcess(settings, profiles, self.push_feed)

    def listener(self, outcome: Outcome) -> None:
        """The ingest's commit listener (a few dictionary updates, never a wait)."""
        self.match_feed(outcome)
        if self.push_feed is not None:
            self.push_feed(outcome)

    def readiness(self) -> dict[str, Callable[[], dict[str, Any]]]:
        return {"ngsi_ld_push": self.pusher.detail} if self.pusher is not None else {}

    def start(self, *, push: bool = True) -> list[asyncio.Task[None]]:
        """``push=False``: the caller runs the pusher (hub.cluster.push: one process)."""
        work: list[tuple[str, Callable[[], Awaitable[None]]]] = [
            ("ngsi match", self.matcher.run),
            ("ngsi notify", self.sender.run),
        ]
        if self.pusher is not None and push:
            work.append(("ngsi push", self.pusher.run))
        return [asyncio.create_task(keep_running(name, run), name=name) for name, run in work]
