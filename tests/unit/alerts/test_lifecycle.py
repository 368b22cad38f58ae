"""Alert-lifecycle suppression (hub/alerts/lifecycle.py): an alert an operator
resolved while its condition still held is not opened again for the same episode;
it opens again once the condition has been seen clear after the resolution, or for
a condition that began after it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.alerts.lifecycle import held_back

RESOLVED = datetime(2026, 1, 1, 12, tzinfo=UTC)
BEFORE = RESOLVED - timedelta(minutes=5)
AFTER = RESOLVED + timedelta(minutes=5)


@pytest.mark.parametrize(
    ("resolved_at", "since", "cleared_at", "held"),
    [
        pytest.param(None, None, None, False, id="never resolved by an operator: opens"),
        pytest.param(None, BEFORE, BEFORE, False, id="never resolved, whatever the history"),
        pytest.param(RESOLVED, None, None, True, id="resolved, start unknown, not seen clear"),
        pytest.param(RESOLVED, BEFORE, None, True, id="resolved while it held: same episode"),
        pytest.param(RESOLVED, RESOLVED, None, True, id="began at the resolution: same episode"),
        pytest.param(RESOLVED, AFTER, None, False, id="began after the resolution: new episode"),
        pytest.param(RESOLVED, BEFORE, BEFORE, True, id="seen clear only before the resolution"),
        pytest.param(RESOLVED, BEFORE, RESOLVED, True, id="seen clear at the resolution"),
        pytest.param(RESOLVED, BEFORE, AFTER, False, id="seen clear after: opens again"),
        pytest.param(RESOLVED, None, AFTER, False, id="start unknown, seen clear after: opens"),
    ],
)
def test_an_operator_resolution_holds_back_the_same_episode_only(
    resolved_at: datetime | None,
    since: datetime | None,
    cleared_at: datetime | None,
    held: bool,
) -> None:
    assert held_back(resolved_at, since, cleared_at) is held
