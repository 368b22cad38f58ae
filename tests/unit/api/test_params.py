"""Query parameters of the API (hub/api/params.py): bucket widths, instants in a
time zone, time ranges, bounding boxes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.api import params
from hub.errors import InvalidParameter

H = timedelta(hours=1)
D = timedelta(days=1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "width"),
    [("5m", timedelta(minutes=5)), ("1h", H), ("6h", 6 * H), ("1d", D), ("2w", 14 * D)],
)
def test_bucket_widths(text: str, width: timedelta) -> None:
    assert params.bucket_width(text) == width


@pytest.mark.parametrize("text", ["", "5", "m", "0h", "1y", "1.5h", "-1d", "400d", "1 h"])
def test_bad_bucket_widths_name_the_parameter(text: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        params.bucket_width(text)
    assert caught.value.params[0].name == "bucket"


def test_a_time_without_offset_is_read_in_the_time_zone() -> None:
    assert params.instant(datetime(2026, 7, 1, 12), "Europe/Oslo", "from") == utc(2026, 7, 1, 10)
    assert params.instant(utc(2026, 7, 1, 12), "Europe/Oslo", "from") == utc(2026, 7, 1, 12)
    with pytest.raises(InvalidParameter):
        params.instant(datetime(1, 1, 1, tzinfo=UTC), "UTC", "from")


def test_time_ranges_default_and_refuse_what_is_past_the_limit() -> None:
    span = params.time_range(None, utc(2026, 1, 2), tz="UTC", default=D, longest=7 * D, hint="")
    assert (span.start, span.end) == (utc(2026, 1, 1), utc(2026, 1, 2))
    with pytest.raises(InvalidParameter, match="longer than the limit of 7 days"):
        params.time_range(
            utc(2026, 1, 1), utc(2026, 2, 1), tz="UTC", default=D, longest=7 * D, hint=""
        )
    with pytest.raises(InvalidParameter, match="before 'to'"):
        params.time_range(
            utc(2026, 1, 2), utc(2026, 1, 1), tz="UTC", default=D, longest=7 * D, hint=""
        )


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("10.3,63.4,10.5,63.5", True),
        ("-180,-90,180,90", True),
        ("10.5,63.4,10.3,63.5", False),
        ("1,2,3", False),
        ("a,b,c,d", False),
        ("nan,1,2,3", False),
        ("0,0,200,0", False),
    ],
)
def test_bounding_boxes(text: str, ok: bool) -> None:
    if ok:
        assert len(params.parse_bbox(text)) == 4
    else:
        with pytest.raises(InvalidParameter):
            params.parse_bbox(text)
