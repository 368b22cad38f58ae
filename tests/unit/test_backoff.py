"""The one backoff of every retry loop: doubles up to the cap, jitter only shortens."""

from __future__ import annotations

from hub.backoff import backoff_delay


def test_backoff_doubles_up_to_the_cap_and_jitter_takes_off_at_most_its_share() -> None:
    for attempt, full in enumerate([0.5, 1, 2, 4, 8, 10, 10]):
        for _ in range(50):
            delay = backoff_delay(attempt, base=0.5, cap=10, jitter=0.5)
            assert 0.5 * full <= delay <= full


def test_backoff_without_jitter_is_exact_and_survives_huge_attempts() -> None:
    assert backoff_delay(3, base=0.1, cap=5, jitter=0) == 0.8
    assert backoff_delay(10_000, base=0.1, cap=5, jitter=0) == 5
    assert backoff_delay(-1, base=2, cap=20, jitter=0) == 2
