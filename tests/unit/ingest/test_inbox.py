"""The inbox's backpressure (hub/ingest/inbox.py): the own broker session stops
reading when ``limit`` of its messages wait, and resumes once the collector has
taken them down to half; other sources' messages neither count nor resume."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub.ingest.inbox import Inbox
from hub.ingest.mqtt import Inbound
from hub.ingest.submissions import Submission
from hub.payloads import Origin


class Reading:
    """The own session's socket reading, as the inbox sees it (hub.ingest.inbox.Reader)."""

    def __init__(self) -> None:
        self.paused = False

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False


def inbound(mid: int) -> Inbound:
    return Inbound("t/load_meter/lm-1/telemetry", b"{}", 1, mid, 1, 0.0)


def submission(n: int) -> Submission:
    origin = Origin(f"/ingest/{n}", datetime(2026, 1, 1, tzinfo=UTC), "hub", "http")
    return Submission(b"{}", origin, lambda s, committed: None)


def inbox_with_reader(limit: int) -> tuple[Inbox, Reading]:
    inbox = Inbox(limit)
    reader = Reading()
    inbox.reader = reader
    return inbox, reader


# Steps: "p" puts an own-session message, "s" submits another source's, "t" takes
# the next one out; after each step, whether reading is paused.
@pytest.mark.parametrize(
    ("limit", "steps", "paused"),
    [
        pytest.param(4, "ppp", "---", id="below the limit: reading goes on"),
        pytest.param(4, "pppp", "---P", id="at the limit: reading pauses"),
        pytest.param(4, "pppptt", "---PP-", id="resumes at half the limit, not before"),
        pytest.param(5, "pppppttt", "----PPP-", id="odd limit: resumes at limit // 2"),
        pytest.param(4, "pppptpp", "---PPPP", id="refilled before half: stays paused"),
        pytest.param(4, "pppssss", "-------", id="other sources do not count"),
        pytest.param(4, "spppp", "----P", id="other sources ahead of it do not count either"),
        pytest.param(4, "sppppt", "----PP", id="taking another source's message resumes nothing"),
        pytest.param(2, "pptpt", "-P-P-", id="pauses and resumes again and again"),
    ],
)
def test_reading_pauses_at_the_limit_and_resumes_at_half(
    limit: int, steps: str, paused: str
) -> None:
    inbox, reader = inbox_with_reader(limit)
    seen = ""
    mid = 0
    for step in steps:
        if step == "p":
            inbox.put(inbound(mid))
            mid += 1
        elif step == "s":
            inbox.submit(submission(mid))
            mid += 1
        else:
            inbox.get_nowait()
        seen += "P" if reader.paused else "-"
    assert seen == paused


async def test_messages_come_out_in_receive_order_whatever_their_source() -> None:
    inbox, _ = inbox_with_reader(10)
    entries = [inbound(0), submission(1), inbound(2), submission(3)]
    for entry in entries:
        if type(entry) is Inbound:
            inbox.put(entry)
        else:
            inbox.submit(entry)  # type: ignore[arg-type]
    assert inbox.qsize() == 4
    assert [await inbox.get(), inbox.get_nowait(), await inbox.get(), inbox.get_nowait()] == (
        entries
    )
    assert inbox.own_waiting == 0


def test_a_lost_connection_drops_its_own_messages_and_keeps_the_others_in_order() -> None:
    inbox, _ = inbox_with_reader(10)
    kept = [submission(1), submission(3)]
    inbox.put(inbound(0))
    inbox.submit(kept[0])
    inbox.put(inbound(2))
    inbox.submit(kept[1])
    assert inbox.drop_own() == 2  # not acknowledged: the broker sends them again
    assert inbox.own_waiting == 0
    assert inbox.drain() == kept


def test_without_a_session_yet_messages_are_queued_and_nothing_pauses() -> None:
    inbox = Inbox(1)
    inbox.put(inbound(0))
    inbox.put(inbound(1))
    assert inbox.own_waiting == 2
    assert inbox.drain() == [inbound(0), inbound(1)]
    assert inbox.own_waiting == 0
