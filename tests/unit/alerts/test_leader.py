"""The leadership's timing: a holder cut off from the database stops its worker
before the server can hand the lock to another process."""

from __future__ import annotations

import pytest

from hub.alerts import leader


@pytest.mark.parametrize("interval_s", [0.2, 1.0, 2.0, 5.0, 30.0, 300.0])
def test_a_cut_off_holder_stops_before_the_server_drops_its_lock(interval_s: float) -> None:
    period = leader.check_period(interval_s)
    timeout = leader.check_timeout(interval_s)
    # Link gone right after a good check: the next check starts a period later and
    # gives up after its timeout; the server ends the session no sooner than drop.
    assert period + timeout < leader.server_drop_s(interval_s) - 1.0
    assert timeout >= 1.0  # a loaded machine's slow SELECT 1 is not a lost lock


@pytest.mark.parametrize("interval_s", [1.0, 2.0, 30.0])
def test_a_standby_tries_the_lock_twice_an_interval(interval_s: float) -> None:
    # Two tries per interval: a takeover within two intervals leaves room for the
    # new engine's start.
    assert leader.poll_period(interval_s) == interval_s / 2
