"""Readings through the API at both storage levels, with data written by the real
ingest: raw pages, buckets from the rollups and from date_bin giving the same
values as a computation here, local-day buckets across a DST change, latest values,
and clear 422s past the limits."""

from __future__ import annotations

import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hub.devstack import Devstack
from tests.integration.api_helpers import ApiHub, start_hub
from tests.integration.helpers import telemetry

START = datetime(2026, 1, 1, tzinfo=UTC)
STEP = timedelta(minutes=15)
MESSAGES = 3 * 96  # three days, every 15 minutes
DST_START = datetime(2026, 3, 28, tzinfo=UTC)


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def _values(i: int) -> dict[str, float]:
    # What telemetry(seq) sends: seq, a = seq / 10, b = -seq.
    return {"seq": float(i), "a": i / 10, "b": float(-i)}


@pytest.fixture(scope="module", params=["plain", "timescale"])
def hub(request: pytest.FixtureRequest, stack: Devstack) -> Iterator[ApiHub]:
    if request.param == "timescale" and not stack.postgres.timescaledb:
        pytest.skip("TimescaleDB not installed")
    api = start_hub(
        stack, Path(tempfile.mkdtemp(prefix="hub-api-readings-")), storage=request.param
    )
    api.publish(
        [(api.topic("lm-r1"), telemetry(i, _ms(START + i * STEP))) for i in range(MESSAGES)]
        + [
            (api.topic("lm-dst"), telemetry(i, _ms(DST_START + i * timedelta(hours=1))))
            for i in range(72)
        ]
    )
    api.wait_stored("lm-r1", MESSAGES * 3)
    api.wait_stored("lm-dst", 72 * 3)
    yield api
    api.stop()


def _get(hub: ApiHub, path: str, **params: Any) -> Any:
    with hub.client("viewer") as client:
        r = client.get(path, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_raw_readings_in_a_range_are_the_ones_published(hub: ApiHub) -> None:
    body = _get(
        hub,
        "/api/v1/devices/lm-r1/readings",
        metric="a",
        **{"from": "2026-01-01T00:00:00Z", "to": "2026-01-01T01:00:00Z"},
    )
    assert body["source"] == "raw"
    assert body["units"] == {"a": "Cel"}
    assert [(r["time"][:19], r["value"]) for r in body["readings"]] == [
        ("2026-01-01T00:00:00", 0.0),
        ("2026-01-01T00:15:00", 0.1),
        ("2026-01-01T00:30:00", 0.2),
        ("2026-01-01T00:45:00", 0.3),
    ]


def test_raw_pages_join_up_to_the_whole_range(hub: ApiHub) -> None:
    window = {"from": "2026-01-01T00:00:00Z", "to": "2026-01-01T06:00:00Z"}
    rows: list[tuple[str, str, float]] = []
    cursor = None
    pages = 0
    while True:
        extra = {"cursor": cursor} if cursor else {}
        body = _get(hub, "/api/v1/devices/lm-r1/readings", limit=10, **window, **extra)
        rows += [(r["time"], r["metric"], r["value"]) for r in body["readings"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    expected = [
        (i, metric, value) for i in range(24) for metric, value in sorted(_values(i).items())
    ]
    assert pages == 8
    assert [(m, v) for _, m, v in rows] == [(m, v) for _, m, v in expected]
    assert len({(t, m) for t, m, _ in rows}) == 72


def _expected_buckets(
    start_of: Callable[[datetime], datetime], agg: str, metric: str
) -> dict[str, float]:
    groups: dict[datetime, list[tuple[datetime, float]]] = defaultdict(list)
    for i in range(MESSAGES):
        t = START + i * STEP
        groups[start_of(t)].append((t, _values(i)[metric]))
    combine: dict[str, Callable[[list[float]], float]] = {
        "avg": lambda v: sum(v) / len(v),
        "min": min,
        "max": max,
        "sum": sum,
        "count": lambda v: float(len(v)),
        "first": lambda v: v[0],
        "last": lambda v: v[-1],
    }
    return {
        b.astimezone(UTC).isoformat(): combine[agg]([v for _, v in sorted(points)])
        for b, points in groups.items()
    }


def _floor(width: timedelta) -> Callable[[datetime], datetime]:
    return lambda t: START + ((t - START) // width) * width


def _local_day(tz: str) -> Callable[[datetime], datetime]:
    def start_of(t: datetime) -> datetime:
        local = t.astimezone(ZoneInfo(tz))
        return local.replace(hour=0, minute=0, second=0, microsecond=0)

    return start_of


@pytest.mark.parametrize(
    ("bucket", "tz", "agg", "metric", "source", "start_of"),
    [
        ("30m", "UTC", "avg", "a", "raw", _floor(timedelta(minutes=30))),
        ("1h", "UTC", "avg", "a", "rollup_1h", _floor(timedelta(hours=1))),
        ("1h", "UTC", "min", "b", "rollup_1h", _floor(timedelta(hours=1))),
        ("6h", "UTC", "max", "a", "rollup_1h", _floor(timedelta(hours=6))),
        ("1h", "UTC", "first", "seq", "rollup_1h", _floor(timedelta(hours=1))),
        ("1h", "UTC", "last", "seq", "rollup_1h", _floor(timedelta(hours=1))),
        ("1d", "UTC", "sum", "seq", "rollup_1d", _floor(timedelta(days=1))),
        ("1d", "UTC", "count", "a", "rollup_1d", _floor(timedelta(days=1))),
        ("1d", "Europe/Oslo", "avg", "a", "rollup_1h", _local_day("Europe/Oslo")),
        ("1d", "Asia/Kolkata", "count", "b", "raw", _local_day("Asia/Kolkata")),
        ("1d", "America/St_Johns", "sum", "a", "raw", _local_day("America/St_Johns")),
    ],
)
def test_buckets_match_a_computation_over_the_published_values(
    hub: ApiHub,
    bucket: str,
    tz: str,
    agg: str,
    metric: str,
    source: str,
    start_of: Callable[[datetime], datetime],
) -> None:
    body = _get(
        hub,
        "/api/v1/devices/lm-r1/readings",
        metric=metric,
        bucket=bucket,
        agg=agg,
        tz=tz,
        **{"from": "2025-12-31T00:00:00Z", "to": "2026-01-05T00:00:00Z"},
    )
    assert body["source"] == source
    got = {datetime.fromisoformat(r["time"]).isoformat(): r["value"] for r in body["readings"]}
    expected = _expected_buckets(start_of, agg, metric)
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value), key


def test_local_days_are_23_and_25_hours_long_across_a_clock_change(hub: ApiHub) -> None:
    body = _get(
        hub,
        "/api/v1/devices/lm-dst/readings",
        metric="seq",
        bucket="1d",
        agg="count",
        tz="Europe/Oslo",
        **{"from": "2026-03-28T00:00:00", "to": "2026-03-31T00:00:00"},
    )
    # Naive times are read in tz: local midnight is 23:00Z before the change, 22:00Z after.
    assert body["from"].startswith("2026-03-27T23:00:00")
    assert [(r["time"][:19], r["value"]) for r in body["readings"]] == [
        ("2026-03-27T23:00:00", 23.0),
        ("2026-03-28T23:00:00", 23.0),  # 29 March has 23 hours
        ("2026-03-29T22:00:00", 24.0),
    ]


def test_latest_values_of_selected_devices(hub: ApiHub) -> None:
    body = _get(hub, "/api/v1/readings/latest", device=["lm-r1", "lm-dst"])
    by_device = {item["device_id"]: item["values"] for item in body["items"]}
    last = MESSAGES - 1
    assert by_device["lm-r1"]["seq"]["value"] == last
    assert by_device["lm-r1"]["a"] == {
        "time": (START + last * STEP).isoformat().replace("+00:00", "Z"),
        "value": last / 10,
        "unit": "Cel",
    }
    assert by_device["lm-dst"]["b"]["value"] == -71
    assert body["next_cursor"] is None
    only_a = _get(hub, "/api/v1/readings/latest", profile="load_meter", metric="a")
    assert all(set(item["values"]) <= {"a"} for item in only_a["items"])
    first = _get(hub, "/api/v1/readings/latest", device=["lm-r1", "lm-dst"], limit=1)
    second = _get(
        hub,
        "/api/v1/readings/latest",
        device=["lm-r1", "lm-dst"],
        limit=1,
        cursor=first["next_cursor"],
    )
    assert [i["device_id"] for i in first["items"] + second["items"]] == ["lm-dst", "lm-r1"]
    assert second["next_cursor"] is None
    assert second["items"][0]["values"] == by_device["lm-r1"]


@pytest.mark.parametrize(
    ("params", "names", "says"),
    [
        (
            {"from": "2025-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
            "from",
            "longer than the limit",
        ),
        ({"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "from", "before 'to'"),
        (
            {"bucket": "1m", "from": "2025-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
            "bucket",
            "wider bucket",
        ),
        ({"bucket": "5x"}, "bucket", "not a bucket width"),
        ({"bucket": "1h", "agg": "median"}, "agg", "Input should be"),
        ({"tz": "Mars/Olympus"}, "tz", "unknown time zone"),
        ({"metric": "nope"}, "metric", "not a metric of load_meter"),
        ({"limit": 10**6}, "limit", "at most"),
        ({"from": "0001-01-01T00:00:00Z"}, "from", "between the years"),
        ({"from": "yesterday"}, "from", "RFC 3339"),
        ({"to": "1767225600"}, "to", "RFC 3339"),
        ({"cursor": "AAAA"}, "cursor", "not a cursor"),
    ],
)
def test_bad_reading_parameters_get_a_422_naming_the_parameter(
    hub: ApiHub, params: dict[str, Any], names: str, says: str
) -> None:
    with hub.client("viewer") as client:
        r = client.get("/api/v1/devices/lm-r1/readings", params=params)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert [p["name"] for p in problem["invalid_params"]] == [names]
    assert says in problem["detail"]


def test_latest_values_of_live_devices_are_the_newest(hub: ApiHub) -> None:
    # Recent readings are found by one scan over all series, old ones by a probe per
    # series; a device with both gives its newest either way.
    now = datetime.now(UTC).replace(microsecond=0)
    hub.publish(
        [
            (hub.topic("lm-live"), telemetry(i, _ms(now - timedelta(minutes=3 - i))))
            for i in range(4)
        ]
        + [(hub.topic("lm-live"), telemetry(99, _ms(now - timedelta(days=3))))]
    )
    hub.wait_stored("lm-live", 15)
    body = _get(hub, "/api/v1/readings/latest", device=["lm-live", "lm-r1"])
    values = {item["device_id"]: item["values"] for item in body["items"]}
    assert values["lm-live"]["seq"]["value"] == 3
    assert values["lm-live"]["a"]["time"] == now.isoformat().replace("+00:00", "Z")
    assert values["lm-r1"]["seq"]["value"] == MESSAGES - 1
