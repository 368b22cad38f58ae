"""Paging cursors (hub/api/cursor.py)."""

from __future__ import annotations

import pytest

from hub.api import cursor
from hub.errors import InvalidParameter


def test_cursors_round_trip_and_garbage_is_refused() -> None:
    assert cursor.decode(cursor.encode("sl-0042"), str) == ("sl-0042",)
    assert (
        cursor.decode(cursor.encode("2026-01-01T00:00:00+00:00", "power"), str, str)[1] == "power"
    )
    for garbage in (
        "",
        "x",
        "AAAA",
        cursor.encode(1),
        cursor.encode(True),
        cursor.encode("a", "b"),
    ):
        with pytest.raises(InvalidParameter):
            cursor.decode(garbage, str)
