"""The push holds its changes while the ingest catches up (hub.ngsi.push_process)."""

from __future__ import annotations

import asyncio
import multiprocessing
import time

import pytest

from hub.config import Settings
from hub.model import Outcome
from hub.ngsi import push_process
from hub.ngsi.changes import ChangeFeed
from hub.ngsi.push_process import PushProcess


def _changed(*devices: str) -> Outcome:
    return Outcome(profiles={d: "street_light" for d in devices})


async def _handed_over(pipe: object, within: float) -> list[object]:
    """What the child's side of the pipe received within ``within`` seconds."""
    got: list[object] = []
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        while pipe.poll():  # type: ignore[attr-defined]
            got.append(pipe.recv())  # type: ignore[attr-defined]
        if got:
            return got
        await asyncio.sleep(0.05)
    return got


async def test_changes_wait_while_the_ingest_catches_up_and_go_when_it_is_done() -> None:
    busy = True
    feed = ChangeFeed(100)
    pusher = PushProcess(Settings(), {}, feed, busy=lambda: busy)
    ours, theirs = multiprocessing.Pipe()
    serving = asyncio.create_task(pusher._serve(ours))
    try:
        feed(_changed("sl-1", "sl-2"))
        assert await _handed_over(theirs, 2.0) == [], "handed over during a backlog"
        feed(_changed("sl-3"))
        busy = False
        got = await _handed_over(theirs, 3.0)
        assert len(got) == 1
        kind, devices, overflowed, _ = got[0]  # type: ignore[misc]
        assert kind == "changes" and sorted(devices) == ["sl-1", "sl-2", "sl-3"]
        assert overflowed is False
    finally:
        serving.cancel()
        ours.close()
        theirs.close()


async def test_a_long_backlog_holds_the_changes_no_longer_than_the_hold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(push_process, "BUSY_HOLD_S", 1.0)
    feed = ChangeFeed(100)
    pusher = PushProcess(Settings(), {}, feed, busy=lambda: True)
    ours, theirs = multiprocessing.Pipe()
    serving = asyncio.create_task(pusher._serve(ours))
    try:
        started = time.monotonic()
        feed(_changed("sl-1"))
        got = await _handed_over(theirs, 5.0)
        assert [g[1] for g in got] == [["sl-1"]]  # type: ignore[index]
        assert time.monotonic() - started >= 1.0
    finally:
        serving.cancel()
        ours.close()
        theirs.close()
