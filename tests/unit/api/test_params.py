"""Pure parts of the API: parameters, bucket grids, cursors, roles, event filters,
and the one table of error statuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import get_args

import psycopg
import pytest

from hub import errors
from hub.api import cursor, params
from hub.api.deadletters import Reason
from hub.api.problems import status_of
from hub.api.stream import event_filter, format_event
from hub.apikeys import generate_key, hash_key, role_allows
from hub.errors import ConflictError as Conflict
from hub.errors import InvalidParameter, NotFound
from hub.events import Event
from hub.store.readings import make_grid

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


def test_roles_are_ordered_and_keys_are_random_and_hashed() -> None:
    assert role_allows("admin", "operator") and role_allows("operator", "operator")
    assert not role_allows("viewer", "operator") and not role_allows("operator", "admin")
    assert not role_allows("root", "viewer")
    a, b = generate_key(), generate_key()
    assert a != b and a.startswith("hub_") and len(a) == 47
    assert hash_key(a) != hash_key(b) and len(hash_key(a)) == 32


def test_the_api_knows_every_dead_letter_reason() -> None:
    assert set(get_args(Reason)) == set(errors.DEAD_LETTER_REASONS)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (NotFound("x"), 404),
        (InvalidParameter("x", "y"), 422),
        (Conflict("x"), 409),
        (errors.ConflictError("x"), 409),
        (psycopg.errors.DataError("x"), 422),
        (psycopg.OperationalError("x"), 503),
        (RuntimeError("x"), 500),
    ],
)
def test_one_table_turns_errors_into_statuses(error: Exception, status: int) -> None:
    assert status_of(error) == status


def test_live_stream_filters_and_formats_events() -> None:
    reading = Event(
        "reading", "sl-1", "street_light", utc(2026, 1, 1), {"metric": "power", "value": 4.5}
    )
    status = Event("status", "sl-2", "street_light", utc(2026, 1, 1), {"status": "online"})
    assert event_filter(None, None, None, None)(reading)
    assert event_filter(["status"], None, None, None)(status)
    assert not event_filter(["status"], None, None, None)(reading)
    assert not event_filter(None, ["sl-2"], None, None)(reading)
    assert not event_filter(None, None, None, ["voltage"])(reading)
    assert event_filter(None, None, None, ["voltage"])(status), (
        "a metric filter only narrows readings"
    )
    assert format_event(reading) == (
        "event: reading\n"
        'data: {"type":"reading","device_id":"sl-1","profile":"street_light",'
        '"time":"2026-01-01T00:00:00Z","metric":"power","value":4.5}\n\n'
    )
