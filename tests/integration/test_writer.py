"""The batch writer against a real PostgreSQL: refusals become dead letters, and a
batch the database refuses does not stop the pipeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.config import Settings
from hub.model import Item, Reading
from hub.store import ingest_devices as writer_module
from hub.store.db import connect
from hub.store.writer import BatchWriter

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _item(device: str, seq: int, profile: str = "load_meter") -> Item:
    at = T0 + timedelta(seconds=seq)
    return Item(
        topic=f"t/{profile}/{device}/telemetry",
        payload=b"{}",
        received_at=at,
        device_id=device,
        profile=profile,
        readings=(Reading(device, "a", at, float(seq)),),
    )


def _dead(settings: Settings) -> list[tuple[str, str | None]]:
    with connect(settings.database_url, "test") as conn:
        return conn.execute("SELECT reason, device_id FROM dead_letters ORDER BY id").fetchall()


async def test_a_message_the_database_refuses_is_a_dead_letter_and_the_rest_is_stored(
    migrated: Settings, default_storage: str
) -> None:
    with connect(migrated.database_url, "test", autocommit=True) as conn:
        conn.execute(
            """CREATE FUNCTION refuse_666() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN IF NEW.value = 666 THEN RAISE EXCEPTION 'value 666 refused'; END IF;
               RETURN NEW; END $$"""
        )
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON readings FOR EACH ROW EXECUTE FUNCTION refuse_666()"
        )
    writer = BatchWriter(migrated.database_url, storage=default_storage, auto_register=True)
    try:
        outcome = await writer.write([_item("lm-1", 1), _item("lm-1", 666), _item("lm-1", 3)], [])
    finally:
        await writer.close()
    assert sorted(r.value for r in outcome.readings) == [1.0, 3.0]
    assert outcome.dead == {"store_rejected": 1}
    with connect(migrated.database_url, "test") as conn:
        values = conn.execute("SELECT value FROM readings ORDER BY value").fetchall()
        detail = conn.execute("SELECT detail FROM dead_letters").fetchone()
    assert values == [(1.0,), (3.0,)]
    assert detail is not None and "value 666 refused" in detail[0]


async def test_decommissioned_device_is_refused_after_the_cache_refresh(
    migrated: Settings, default_storage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = BatchWriter(migrated.database_url, storage=default_storage, auto_register=True)
    try:
        await writer.write([_item("lm-2", 1)], [])
        with connect(migrated.database_url, "test", autocommit=True) as conn:
            conn.execute("UPDATE devices SET decommissioned_at = now() WHERE device_id = 'lm-2'")
        monkeypatch.setattr(writer_module, "DEVICE_CACHE_TTL_S", 0.0)
        outcome = await writer.write([_item("lm-2", 2)], [])
    finally:
        await writer.close()
    assert outcome.readings == []
    assert _dead(migrated) == [("unknown_device", "lm-2")]


async def test_times_and_values_are_stored_exactly(
    migrated: Settings, default_storage: str
) -> None:
    times = [
        datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 0, 0, 1, tzinfo=UTC),
        datetime(2026, 11, 28, 3, 4, 5, 678901, tzinfo=UTC),
    ]
    values = [-1.5e-300, 0.1 + 0.2, 1e300]
    items = [
        Item("t", b"{}", at, "lm-9", "load_meter", (Reading("lm-9", "a", at, value),))
        for at, value in zip(times, values, strict=True)
    ]
    writer = BatchWriter(migrated.database_url, storage=default_storage, auto_register=True)
    try:
        await writer.write(items, [])
    finally:
        await writer.close()
    with connect(migrated.database_url, "test") as conn:
        rows = conn.execute("SELECT time, value FROM readings ORDER BY time").fetchall()
    assert rows == list(zip(times, values, strict=True))
