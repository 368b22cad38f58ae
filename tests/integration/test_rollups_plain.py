"""The plain level's rollups, refreshed from a watermark outside the ingest's
transaction (hub.store.rollups, docs/adr/0015): the bucketed API gives the values
of the readings themselves before a refresh, after it, on both sides of the
watermark, with readings that arrive late (below it) and with redeliveries; and
neither a hub killed after its commit nor a refresh killed half-way loses a reading."""

from __future__ import annotations

import tempfile
import threading
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from hub.devstack import Devstack
from hub.store import bulk, rollups
from hub.store.db import connect
from hub.store.migrate import migrate
from tests.integration.api_helpers import ApiHub, start_hub
from tests.integration.helpers import telemetry, wait_for

START = datetime(2026, 1, 1, tzinfo=UTC)
STEP = timedelta(minutes=20)
MESSAGES = 3 * 72  # three days, every 20 minutes
# Read back over the whole span, in hourly and daily buckets (both from the rollups).
SPAN = {"from": "2025-12-31T00:00:00Z", "to": "2026-01-06T00:00:00Z"}
AGGREGATES = ("avg", "min", "max", "sum", "count", "first", "last")


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


@pytest.fixture
def hub(stack: Devstack) -> Iterator[ApiHub]:
    # The hub's own refresh runs once at start (nothing to do yet), then not again
    # during the test: the test moves the watermark itself.
    api = start_hub(
        stack,
        Path(tempfile.mkdtemp(prefix="hub-rollups-")),
        storage="plain",
        HUB_ROLLUP_REFRESH_S="3600",
    )
    yield api
    api.stop()


def _expected(
    sent: dict[datetime, int], width: timedelta, aggregate: str
) -> dict[tuple[datetime, str], float]:
    """What the bucketed API must answer, computed here from what was sent."""
    buckets: dict[tuple[datetime, str], list[tuple[datetime, float]]] = defaultdict(list)
    seconds = width.total_seconds()
    for t, seq in sent.items():
        start = datetime.fromtimestamp(t.timestamp() // seconds * seconds, UTC)
        for metric, value in (("seq", float(seq)), ("a", seq / 10), ("b", float(-seq))):
            buckets[start, metric].append((t, value))
    out: dict[tuple[datetime, str], float] = {}
    for key, points in buckets.items():
        values = [v for _, v in sorted(points)]
        out[key] = {
            "avg": sum(values) / len(values),
            "min": min(values),
            "max": max(values),
            "sum": sum(values),
            "count": float(len(values)),
            "first": values[0],
            "last": values[-1],
        }[aggregate]
    return out


def _read(hub: ApiHub, bucket: str, aggregate: str) -> tuple[str, dict[Any, float]]:
    with hub.client("viewer") as client:
        r = client.get(
            "/api/v1/devices/lm-w/readings",
            params={**SPAN, "bucket": bucket, "agg": aggregate, "tz": "UTC"},
        )
    assert r.status_code == 200, r.text
    body = r.json()
    values = {
        (datetime.fromisoformat(p["time"]), p["metric"]): p["value"] for p in body["readings"]
    }
    return body["source"], values


def _check(hub: ApiHub, sent: dict[datetime, int]) -> None:
    for bucket, width in (("1h", timedelta(hours=1)), ("1d", timedelta(days=1))):
        for aggregate in AGGREGATES:
            source, got = _read(hub, bucket, aggregate)
            assert source == f"rollup_{bucket}"
            expected = _expected(sent, width, aggregate)
            assert got.keys() == expected.keys(), (bucket, aggregate)
            for key, value in expected.items():
                assert got[key] == pytest.approx(value), (bucket, aggregate, key)


def _messages(hub: ApiHub) -> float:
    with hub.client() as client:
        text = client.get("/metrics").text
    for line in text.splitlines():
        if line.startswith('hub_ingest_messages_total{kind="telemetry"}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _publish(hub: ApiHub, sent: dict[datetime, int], times: list[datetime]) -> None:
    """Publish a message at each time (a time already sent is a redelivery of the
    same message) and wait until the hub has committed them all."""
    before = _messages(hub)
    for t in times:
        sent.setdefault(t, len(sent))
    hub.publish([(hub.topic("lm-w"), telemetry(sent[t], _ms(t))) for t in times])
    wait_for(lambda: _messages(hub) >= before + len(times), 30, "the messages committed")
    hub.wait_stored("lm-w", len(sent) * 3)


def _refresh(hub: ApiHub, watermark: datetime) -> datetime | None:
    """Refresh with the lag that puts the watermark at ``watermark`` (an hour)."""
    lag = (datetime.now(UTC) - watermark).total_seconds() - 60
    with connect(hub.settings.database_url, "test", autocommit=True) as conn:
        row = conn.execute(rollups.REFRESH, {"lag": lag}).fetchone()
    return row[0] if row else None


def _late_rows(hub: ApiHub) -> tuple[int, int]:
    with connect(hub.settings.database_url, "test") as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM readings_1h_late), (SELECT count(*) FROM readings_1d_late)"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def test_bucketed_values_are_the_same_before_and_after_refresh_and_across_the_watermark(
    hub: ApiHub,
) -> None:
    sent: dict[datetime, int] = {}
    _publish(hub, sent, [START + i * STEP for i in range(MESSAGES)])
    _check(hub, sent)  # nothing materialized: all from the raw readings

    watermark = datetime(2026, 1, 2, 13, tzinfo=UTC)  # mid-day: days on both sides too
    assert _refresh(hub, watermark) == watermark
    _check(hub, sent)

    # Late readings below the watermark (on a materialized day and on the day the
    # watermark is in), after it, and a redelivery of stored messages.
    late = [
        datetime(2026, 1, 1, 5, 10, tzinfo=UTC),
        datetime(2026, 1, 1, 23, 59, 59, tzinfo=UTC),
        datetime(2026, 1, 2, 12, 30, tzinfo=UTC),
        datetime(2026, 1, 3, 2, 5, tzinfo=UTC),
    ]
    _publish(hub, sent, late)
    _publish(hub, sent, [START + i * STEP for i in (0, 5, 60, 100)])  # redelivered
    assert _late_rows(hub) != (0, 0)  # the late path was taken
    _check(hub, sent)

    assert _refresh(hub, datetime(2026, 1, 3, 22, tzinfo=UTC)) == datetime(
        2026, 1, 3, 22, tzinfo=UTC
    )
    assert _late_rows(hub) == (0, 0)
    _check(hub, sent)

    # Up to the newest reading's hour, whatever the lag allows.
    with connect(hub.settings.database_url, "test", autocommit=True) as conn:
        conn.execute(rollups.REFRESH, {"lag": 0})
        row = conn.execute("SELECT watermark FROM rollup_watermark").fetchone()
    assert row is not None and row[0] == datetime(2026, 1, 3, 23, tzinfo=UTC)
    _check(hub, sent)


def test_a_crash_between_commit_and_refresh_loses_nothing(hub: ApiHub) -> None:
    sent: dict[datetime, int] = {}
    _publish(hub, sent, [START + i * STEP for i in range(MESSAGES)])
    hub.process.kill()  # committed, never refreshed
    hub.process.start()
    hub.process.wait_ready()
    _check(hub, sent)

    _refresh(hub, datetime(2026, 1, 2, 5, tzinfo=UTC))
    _publish(hub, sent, [datetime(2026, 1, 1, 7, 7, tzinfo=UTC)])  # a late part to fold
    assert _late_rows(hub) != (0, 0)

    # A refresh killed half-way: the daily table is held locked, so the refresh has
    # folded the hourly late part and waits; then its session is terminated.
    url = hub.settings.database_url
    with connect(url, "test") as holder:
        holder.execute("LOCK TABLE readings_1d_mat IN EXCLUSIVE MODE")
        failed: list[BaseException] = []

        def refresh() -> None:
            try:
                with connect(url, "refresh-under-test", autocommit=True) as conn:
                    conn.execute(rollups.REFRESH, {"lag": 0})
            except psycopg.Error as exc:
                failed.append(exc)

        worker = threading.Thread(target=refresh)
        worker.start()
        with connect(url, "test", autocommit=True) as watcher:

            def waiting() -> bool:
                row = watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                    "'hub-refresh-under-test' AND wait_event_type = 'Lock'"
                ).fetchone()
                return bool(row and row[0])

            wait_for(waiting, 20, "the refresh waiting on the daily table")
            watcher.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'hub-refresh-under-test'"
            )
        worker.join(20)
        holder.rollback()
    assert failed, "the refresh should have been terminated"
    assert _late_rows(hub) != (0, 0)  # rolled back: the late part is still there
    _check(hub, sent)

    with connect(url, "test", autocommit=True) as conn:
        conn.execute(rollups.REFRESH, {"lag": 0})
    assert _late_rows(hub) == (0, 0)
    _check(hub, sent)


_FROM_RAW = {
    "readings_1h": "hour",
    "readings_1d": "day",
}
_RAW_ROLLUP = """
SELECT series_id, date_trunc(%(unit)s, time, 'UTC') AS bucket, count(*), sum(value),
       min(value), max(value), min(time), (array_agg(value ORDER BY time))[1],
       max(time), (array_agg(value ORDER BY time DESC))[1]
FROM readings GROUP BY 1, 2 ORDER BY 1, 2
"""


def test_migrating_a_database_whose_writer_kept_the_rollups_keeps_their_values(
    database_url: str, open_tmp: Path
) -> None:
    before = open_tmp / "before"
    before.mkdir()
    for migration in sorted((Path(rollups.__file__).parent / "migrations").glob("*.sql")):
        if int(migration.name[:4]) < 65:
            (before / migration.name).symlink_to(migration)
    with connect(database_url, "test") as conn:
        assert migrate(conn, storage="plain", directory=before) == "plain"
    with connect(database_url, "test", autocommit=True) as conn:
        bulk.fill_fleet(
            conn,
            devices=3,
            metrics=["power", "voltage"],
            start=datetime(2026, 1, 1, tzinfo=UTC),
            end=datetime(2026, 1, 3, 7, 45, tzinfo=UTC),
        )
        # As the writer before migration 0065 left them: every bucket, the newest too.
        for table, unit in _FROM_RAW.items():
            conn.execute(f"INSERT INTO {table} {_RAW_ROLLUP.replace('%(unit)s', repr(unit))}")
    with connect(database_url, "test") as conn:
        migrate(conn, storage="plain")
        watermark = conn.execute("SELECT watermark FROM rollup_watermark").fetchone()
        assert watermark == (datetime(2026, 1, 3, 7, tzinfo=UTC),)
        for view, unit in _FROM_RAW.items():
            got = conn.execute(f"SELECT * FROM {view} ORDER BY 1, 2").fetchall()
            want = conn.execute(_RAW_ROLLUP, {"unit": unit}).fetchall()
            assert [_rounded(row) for row in got] == [_rounded(row) for row in want], view


def _rounded(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """Sums may differ in their last bits with the order rows are added in."""
    return tuple(round(v, 6) if isinstance(v, float) else v for v in row)
