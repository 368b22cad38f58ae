"""The alert repository against a real database: rules (API and profile defaults),
one open alert per rule and device, acknowledge/resolve and their history."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import warnings
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from hub.config import Settings
from hub.errors import ConflictError
from hub.model import RuleSpec
from hub.store import alerts as store
from hub.store import alerts_inputs as inputs
from hub.store import rules as rule_store
from hub.store.db import aconnect

Conn = psycopg.AsyncConnection[Any]


@pytest.fixture
async def conn(migrated: Settings) -> AsyncIterator[Conn]:
    connection = await aconnect(migrated.database_url, "test", autocommit=True)
    try:
        yield connection
    finally:
        await connection.close()


async def add_device(conn: Conn, device_id: str, profile: str, district: str | None = None) -> int:
    cur = await conn.execute(
        "INSERT INTO devices (device_id, profile, district) VALUES (%s, %s, %s) RETURNING id",
        (device_id, profile, district),
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


def burst_spec(**changes: Any) -> RuleSpec:
    values: dict[str, Any] = {
        "name": "burst at the school",
        "kind": "threshold",
        "profile": "water_meter",
        "metric": "flow",
        "device_id": "wm-0001",
        "parameters": {"above": 2500, "for_s": 600},
        "severity": "critical",
    }
    values.update(changes)
    return RuleSpec(**values)


async def test_api_rule_is_created_listed_changed_and_deleted(conn: Conn) -> None:
    created = await rule_store.create_rule(conn, burst_spec())
    assert created.source == "api" and created.parameters == {"above": 2500, "for_s": 600}
    assert await rule_store.get_rule(conn, created.id) == created
    assert [r.id for r in await rule_store.list_rules(conn, profile="water_meter")] == [created.id]
    assert await rule_store.list_rules(conn, profile="street_light") == []

    changed = await rule_store.update_rule(
        conn, created.id, burst_spec(parameters={"above": 2000}, enabled=False)
    )
    assert changed is not None
    assert changed.parameters == {"above": 2000} and not changed.enabled
    assert changed.updated_at >= created.updated_at

    assert await rule_store.delete_rule(conn, created.id)
    assert await rule_store.get_rule(conn, created.id) is None
    assert not await rule_store.delete_rule(conn, created.id)
    assert await rule_store.update_rule(conn, created.id, burst_spec()) is None


async def test_profile_default_rules_are_read_only_and_reloaded_idempotently(conn: Conn) -> None:
    defaults = [
        RuleSpec("offline", "stale", "water_meter"),
        RuleSpec("burst", "threshold", "water_meter", "flow", parameters={"above": 3000}),
    ]
    assert await rule_store.sync_profile_rules(conn, defaults) == 2
    assert await rule_store.sync_profile_rules(conn, defaults) == 0  # nothing changed
    stored = await rule_store.list_rules(conn, source="profile")
    assert [r.name for r in stored] == ["offline", "burst"]
    burst = stored[1]
    with pytest.raises(ConflictError):
        await rule_store.update_rule(conn, burst.id, burst_spec())
    with pytest.raises(ConflictError):
        await rule_store.delete_rule(conn, burst.id)

    # A default that left its profile file is disabled; its id (and alerts) stay.
    assert await rule_store.sync_profile_rules(conn, defaults[1:]) == 0
    after = {r.name: r for r in await rule_store.list_rules(conn, source="profile")}
    assert not after["offline"].enabled and after["burst"].enabled
    assert after["burst"].id == burst.id


async def test_only_one_unresolved_alert_per_rule_and_device(conn: Conn) -> None:
    rule = await rule_store.create_rule(conn, burst_spec(device_id=None))
    device = await add_device(conn, "wm-0001", "water_meter", "Sentrum")
    first = await store.open_alert(
        conn,
        rule_id=rule.id,
        device=device,
        severity="critical",
        message="flow 4500 l/h",
        value=4500.0,
        details={"since": "2026-01-01T00:00:00+00:00"},
    )
    assert first is not None
    assert (first.device_id, first.profile, first.district, first.state) == (
        "wm-0001",
        "water_meter",
        "Sentrum",
        "open",
    )
    again = await store.open_alert(
        conn, rule_id=rule.id, device=device, severity="critical", message="x", value=1, details={}
    )
    assert again is None
    assert await store.unresolved_alerts(conn) == {(rule.id, device): first.id}

    resolved = await store.resolve_by_engine(conn, first.id, note="flow back to normal")
    assert resolved is not None and resolved.resolved_by == "engine"
    assert await store.resolve_by_engine(conn, first.id, note="again") is None
    second = await store.open_alert(
        conn, rule_id=rule.id, device=device, severity="critical", message="y", value=2, details={}
    )
    assert second is not None and second.id != first.id


async def test_acknowledge_and_resolve_keep_who_and_when(conn: Conn) -> None:
    rule = await rule_store.create_rule(conn, burst_spec(device_id=None))
    device = await add_device(conn, "wm-0002", "water_meter")
    alert = await store.open_alert(
        conn, rule_id=rule.id, device=device, severity="critical", message="m", value=1, details={}
    )
    assert alert is not None

    acked = await store.acknowledge(conn, alert.id, actor="kari", note="crew sent")
    assert acked is not None and acked.state == "acknowledged"
    assert acked.acknowledged_by == "kari" and acked.acknowledged_at is not None
    again = await store.acknowledge(conn, alert.id, actor="ola")
    assert again is not None and again.acknowledged_by == "kari"  # idempotent

    done = await store.resolve(conn, alert.id, actor="ola", note="valve replaced")
    assert done is not None and done.state == "resolved" and done.resolved_by == "ola"
    assert (await store.resolve(conn, alert.id, actor="per")).resolved_by == "ola"  # type: ignore[union-attr]
    with pytest.raises(ConflictError):
        await store.acknowledge(conn, alert.id, actor="kari")

    history = await store.alert_history(conn, alert.id)
    assert [(e.state, e.actor, e.note) for e in history] == [
        ("open", "engine", "m"),
        ("acknowledged", "kari", "crew sent"),
        ("resolved", "ola", "valve replaced"),
    ]
    assert history[0].at <= history[1].at <= history[2].at
    assert await store.last_operator_resolution(conn, rule.id, device) == done.resolved_at

    assert await store.acknowledge(conn, 999_999, actor="kari") is None
    assert await store.resolve(conn, 999_999, actor="kari") is None
    assert await store.get_alert(conn, 999_999) is None


async def test_alert_list_filters_and_pages_newest_first(conn: Conn) -> None:
    rule = await rule_store.create_rule(conn, burst_spec(device_id=None))
    lamp_rule = await rule_store.create_rule(
        conn,
        RuleSpec("too bright", "threshold", "street_light", "power", parameters={"above": 200}),
    )
    ids = []
    for n in range(5):
        device = await add_device(conn, f"wm-1{n}", "water_meter", "Nord" if n % 2 else "Sør")
        alert = await store.open_alert(
            conn, rule_id=rule.id, device=device, severity="critical", message="m", value=n,
            details={},
        )  # fmt: skip
        assert alert is not None
        ids.append(alert.id)
    lamp = await add_device(conn, "sl-1", "street_light")
    lamp_alert = await store.open_alert(
        conn, rule_id=lamp_rule.id, device=lamp, severity="warning", message="m", value=0,
        details={},
    )  # fmt: skip
    assert lamp_alert is not None
    await store.resolve(conn, ids[0], actor="kari")

    newest = await store.list_alerts(conn, limit=3)
    assert [a.id for a in newest] == [lamp_alert.id, ids[4], ids[3]]
    rest = await store.list_alerts(conn, limit=10, before_id=newest[-1].id)
    assert [a.id for a in rest] == [ids[2], ids[1], ids[0]]
    assert [a.id for a in await store.list_alerts(conn, profile="street_light")] == [lamp_alert.id]
    assert [a.id for a in await store.list_alerts(conn, district="Nord")] == [ids[3], ids[1]]
    assert [a.id for a in await store.list_alerts(conn, state="resolved")] == [ids[0]]
    assert [a.id for a in await store.list_alerts(conn, device_id="wm-12")] == [ids[2]]
    assert [a.id for a in await store.list_alerts(conn, severity="warning")] == [lamp_alert.id]


async def test_recent_samples_stream_device_by_device_across_fetches(
    conn: Conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The span queries stream (a dense fleet must not land in memory at once): each
    device comes once, with all its samples in time order, even when its rows are
    split over several fetches, and the connection is usable afterwards."""
    monkeypatch.setattr(inputs, "STREAM_CHUNK", 7)  # rows per fetch: devices straddle them
    expected: dict[int, list[tuple[datetime, float]]] = {}
    newest = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    for n, count in enumerate((10, 1, 23)):
        pk = await add_device(conn, f"sl-stream-{n}", "street_light")
        cur = await conn.execute(
            "INSERT INTO series (device, metric) VALUES (%s, 'power') RETURNING id", (pk,)
        )
        row = await cur.fetchone()
        assert row is not None
        samples = [(newest - timedelta(seconds=10 * i), float(n * 100 + i)) for i in range(count)]
        async with (
            conn.cursor() as copy_cur,
            copy_cur.copy("COPY readings (series_id, time, value) FROM STDIN") as copy,
        ):
            for t, value in samples:
                await copy.write_row((row[0], t, value))
        expected[pk] = sorted(samples)

    got = [
        (pk, samples)
        async for pk, samples in inputs.latest_spans(
            conn, profile="street_light", metric="power", span=timedelta(hours=1)
        )
    ]
    assert sorted(pk for pk, _ in got) == sorted(expected)  # each device once
    assert {pk: list(samples) for pk, samples in got} == expected
    cur = await conn.execute("SELECT count(*) FROM readings")  # not left in a transaction
    assert await cur.fetchone() == (34,)
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


async def test_a_consumer_stopped_while_the_stream_closes_leaves_no_cursor_open(
    conn: Conn,
) -> None:
    """The hub stops a rule at the moment its stream of samples ends: the server-side
    cursor is closed all the same (no ResourceWarning, none left in the server) and
    the connection is idle and usable."""
    newest = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    for n in range(2):
        pk = await add_device(conn, f"sl-stop-{n}", "street_light")
        cur = await conn.execute(
            "INSERT INTO series (device, metric) VALUES (%s, 'power') RETURNING id", (pk,)
        )
        row = await cur.fetchone()
        assert row is not None
        await conn.execute(
            "INSERT INTO readings (series_id, time, value) VALUES (%s, %s, 1.0)", (row[0], newest)
        )
    streaming = await aconnect(conn.info.dsn, "test-stream", autocommit=True)
    closing = asyncio.Event()

    async def first_device_only() -> None:
        spans = inputs.latest_spans(
            streaming, profile="street_light", metric="power", span=timedelta(hours=1)
        )
        async with contextlib.aclosing(spans) as rows:
            async for _ in rows:
                closing.set()
                break  # leaving closes the stream: the cursor's CLOSE goes to the server

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            task = asyncio.create_task(first_device_only())
            await closing.wait()  # the consumer is now waiting for the CLOSE
            task.cancel()
            await asyncio.wait({task}, timeout=10)
            assert task.done()
            del task
            gc.collect()
        assert [str(w.message) for w in caught if w.category is ResourceWarning] == []
        assert streaming.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        cur = await streaming.execute("SELECT count(*) FROM pg_cursors")
        assert await cur.fetchone() == (0,)
    finally:
        await streaming.close()
