"""Acknowledgements in receive order (hub/ingest/acks.py): batches may commit in any
order (several writers), yet a message is acknowledged only once its batch is
committed and never before a message received earlier."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub.ingest.acks import InOrderAcks
from hub.ingest.mqtt import Inbound
from hub.ingest.submissions import Submission
from hub.model import Outcome
from hub.payloads import Origin

PER_BATCH = 2


def inbound(mid: int) -> Inbound:
    return Inbound("t/load_meter/lm-1/telemetry", b"{}", 1, mid, 1, 0.0)


def batches(count: int) -> list[list[Inbound]]:
    """``count`` batches of PER_BATCH messages, mids in receive order."""
    return [[inbound(b * PER_BATCH + i) for i in range(PER_BATCH)] for b in range(count)]


@pytest.mark.parametrize(
    ("commit_order", "acked_after_each"),
    [
        pytest.param([0, 1, 2], [2, 4, 6], id="in order: each batch at once"),
        pytest.param([2, 1, 0], [0, 0, 6], id="reversed: all wait for the first"),
        pytest.param([1, 0, 2], [0, 4, 6], id="second first: waits, then both"),
        pytest.param([0, 2, 1], [2, 2, 6], id="last before middle: waits for the middle"),
        pytest.param([2, 0, 1], [0, 2, 6], id="last first: the first alone, then the rest"),
        pytest.param([3, 1, 2, 0], [0, 0, 0, 8], id="four batches, first committed last"),
    ],
)
def test_acks_go_out_in_receive_order_whatever_order_batches_commit_in(
    commit_order: list[int], acked_after_each: list[int]
) -> None:
    acked: list[int] = []
    acks = InOrderAcks(lambda messages: acked.extend(m.mid for m in messages))
    received = batches(len(commit_order))
    numbers = [acks.number() for _ in received]
    assert numbers == list(range(len(received)))
    progress = []
    for seq in commit_order:
        before = len(acked)
        assert acks.committed(seq, received[seq], Outcome()) == len(acked) - before
        progress.append(len(acked))
    assert progress == acked_after_each
    assert acked == sorted(acked) == list(range(PER_BATCH * len(received)))


def test_a_committed_batch_waits_visibly_until_the_earlier_one_commits() -> None:
    acked: list[int] = []
    acks = InOrderAcks(lambda messages: acked.extend(m.mid for m in messages))
    first, second = batches(2)
    acks.number(), acks.number()
    assert acks.committed(1, second, Outcome()) == 0
    assert [m.mid for m in acks.waiting()] == [2, 3]  # type: ignore[union-attr]
    assert acks.committed(0, first, Outcome()) == 4
    assert list(acks.waiting()) == []


def test_what_waits_at_shutdown_is_never_acknowledged() -> None:
    acked: list[int] = []
    acks = InOrderAcks(lambda messages: acked.extend(m.mid for m in messages))
    first, second = batches(2)
    acks.number(), acks.number()
    acks.committed(1, second, Outcome())
    acks.forget()  # shutting down: the broker sends the second batch again
    acks.committed(0, first, Outcome())
    assert acked == [0, 1]


def test_other_sources_are_told_in_receive_order_with_their_batch_outcome() -> None:
    told: list[tuple[str, bool]] = []
    acked: list[int] = []

    def submission(name: str) -> Submission:
        origin = Origin(f"/ingest/{name}", datetime(2026, 1, 1, tzinfo=UTC), "hub", "http")
        return Submission(b"{}", origin, lambda s, committed: told.append((name, committed)))

    acks = InOrderAcks(lambda messages: acked.extend(m.mid for m in messages))
    early = [inbound(0), submission("a")]
    late = [submission("b"), inbound(1)]
    acks.number(), acks.number()
    assert acks.committed(1, late, Outcome()) == 0
    assert told == [] and acked == []
    assert acks.committed(0, early, Outcome()) == 2  # own-session messages only
    assert acked == [0, 1]
    assert told == [("a", True), ("b", True)]
