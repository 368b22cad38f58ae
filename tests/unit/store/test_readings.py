"""Bucket grids (hub/store/readings.py): whole buckets, read from the cheapest exact source."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.store.readings import make_grid

H = timedelta(hours=1)
D = timedelta(days=1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("width", "tz", "start", "end", "source", "grid_start", "grid_end", "buckets"),
    [
        # Hour buckets fit the hourly rollup, and the range widens to whole hours.
        (
            H,
            "UTC",
            utc(2026, 1, 1, 0, 30),
            utc(2026, 1, 1, 2, 10),
            "1h",
            utc(2026, 1, 1, 0),
            utc(2026, 1, 1, 3),
            3,
        ),
        # Shorter buckets need the raw readings.
        (
            timedelta(minutes=15),
            "Europe/Oslo",
            utc(2026, 1, 1, 0, 20),
            utc(2026, 1, 1, 1),
            "raw",
            utc(2026, 1, 1, 0, 15),
            utc(2026, 1, 1, 1),
            3,
        ),
        # UTC days come from the daily rollup.
        (D, "UTC", utc(2026, 1, 1, 5), utc(2026, 1, 3), "1d", utc(2026, 1, 1), utc(2026, 1, 3), 2),
        # Local days are built from hours; 29 March 2026 is 23 hours long in Oslo.
        (
            D,
            "Europe/Oslo",
            utc(2026, 3, 28, 12),
            utc(2026, 3, 30, 12),
            "1h",
            utc(2026, 3, 27, 23),
            utc(2026, 3, 30, 22),
            3,
        ),
        # Half-hour offsets cannot be built from hourly rollups.
        (
            D,
            "Asia/Kolkata",
            utc(2026, 1, 1),
            utc(2026, 1, 2),
            "raw",
            utc(2025, 12, 31, 18, 30),
            utc(2026, 1, 2, 18, 30),
            2,
        ),
        # Weeks start on Mondays (5 January 2026 is one).
        (
            7 * D,
            "UTC",
            utc(2026, 1, 7),
            utc(2026, 1, 8),
            "1d",
            utc(2026, 1, 5),
            utc(2026, 1, 12),
            1,
        ),
    ],
)
def test_bucket_grids_are_whole_buckets_from_the_cheapest_exact_source(
    width: timedelta,
    tz: str,
    start: datetime,
    end: datetime,
    source: str,
    grid_start: datetime,
    grid_end: datetime,
    buckets: int,
) -> None:
    grid = make_grid(width, tz, start, end)
    assert (grid.source, grid.start, grid.end, grid.buckets) == (
        source,
        grid_start,
        grid_end,
        buckets,
    )
