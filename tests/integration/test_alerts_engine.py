"""The alert engine in-process against a real database, with a simulated clock:
restart rebuild (no duplicate, no missed clear), the point-rule stream, stale by
silence, operator resolution, disabled rules, and the SQL-backed rules (daily
mean over the local day, register backflow, power band, cycling, NO2 hourly
limit and air-quality classes) at both storage levels."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from hub.alerts import metrics
from hub.alerts.engine import Engine
from hub.config import Settings
from hub.events import Event, EventBus
from hub.model import Item, Reading, RuleSpec
from hub.store import alerts as store
from hub.store import rules as rule_store
from hub.store.airquality import air_quality_classes
from hub.store.db import aconnect
from hub.store.writer import BatchWriter

Conn = psycopg.AsyncConnection[Any]
ROOT = Path(__file__).resolve().parents[2]
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def alert_settings(migrated: Settings) -> Settings:
    return migrated.model_copy(
        update={
            "profiles_dir": ROOT / "device_profiles",
            "alerts_mqtt_notify": False,
            "alerts_site_lat": 60.79,
            "alerts_site_lon": 11.07,
        }
    )


@pytest.fixture
async def conn(alert_settings: Settings) -> AsyncIterator[Conn]:
    connection = await aconnect(alert_settings.database_url, "test", autocommit=True)
    try:
        yield connection
    finally:
        await connection.close()


class Readings:
    """Writes readings through the hub's real batch writer."""

    def __init__(self, settings: Settings, storage: str) -> None:
        self.writer = BatchWriter(settings.database_url, storage=storage, auto_register=True)

    async def write(
        self,
        profile: str,
        device_id: str,
        rows: Sequence[tuple[datetime, dict[str, float]]],
        *,
        received_at: datetime | None = None,
    ) -> None:
        items = [
            Item(
                topic=f"t/{profile}/{device_id}/telemetry",
                payload=b"{}",
                received_at=received_at or NOW,
                device_id=device_id,
                profile=profile,
                readings=[Reading(device_id, m, t, v) for m, v in values.items()],
            )
            for t, values in rows
        ]
        await self.writer.write(items, [])


@pytest.fixture
async def readings(
    alert_settings: Settings, request: pytest.FixtureRequest
) -> AsyncIterator[Readings]:
    level = (
        request.getfixturevalue("storage")
        if "storage" in request.fixturenames
        else request.getfixturevalue("default_storage")
    )
    writer = Readings(alert_settings, level)
    try:
        yield writer
    finally:
        await writer.writer.close()


def engine(settings: Settings, bus: EventBus | None = None, now: datetime = NOW) -> Engine:
    return Engine(
        settings,
        _profiles(settings),
        storage="plain",
        bus=bus or EventBus(),
        clock=lambda: now,
    )


def _profiles(settings: Settings) -> Any:
    from hub.profiles import load_profiles

    return load_profiles(settings.profiles_dir)


def every(start: datetime, minutes: int, step: int = 5) -> list[datetime]:
    return [start + timedelta(minutes=m) for m in range(0, minutes + 1, step)]


async def alerts_of(conn: Conn, name: str) -> list[tuple[str, str, str | None]]:
    cur = await conn.execute(
        """SELECT d.device_id, a.state, a.resolved_by FROM alerts a
           JOIN rules r ON r.id = a.rule_id JOIN devices d ON d.id = a.device
           WHERE r.name = %s ORDER BY a.id""",
        (name,),
    )
    return [tuple(row) for row in await cur.fetchall()]  # type: ignore[misc]


async def test_restart_opens_no_duplicate_and_catches_a_missed_clear(
    alert_settings: Settings, conn: Conn, readings: Readings
) -> None:
    # Readings committed just before a crash: 25 minutes of burst flow.
    start = NOW - timedelta(minutes=25)
    await readings.write("water_meter", "wm-1", [(t, {"flow": 4500.0}) for t in every(start, 25)])
    bus = EventBus()
    events = bus.subscribe(maxsize=100)
    await engine(alert_settings, bus).start(conn)
    assert await alerts_of(conn, "burst") == [("wm-1", "open", None)]
    opened = events._queue.get_nowait()
    assert opened is not None and opened.type == "alert" and opened.data["state"] == "open"

    await engine(alert_settings).start(conn)  # a restart: nothing new
    assert await alerts_of(conn, "burst") == [("wm-1", "open", None)]

    # The flow came back to normal while the hub was away.
    await readings.write("water_meter", "wm-1", [(NOW + timedelta(seconds=30), {"flow": 12.0})])
    await engine(alert_settings, now=NOW + timedelta(minutes=1)).start(conn)
    assert await alerts_of(conn, "burst") == [("wm-1", "resolved", "engine")]


async def test_point_rules_follow_the_reading_stream(
    alert_settings: Settings, conn: Conn, readings: Readings
) -> None:
    bus = EventBus()
    events = bus.subscribe(maxsize=100, accept=lambda e: e.type == "alert")
    eng = engine(alert_settings, bus)
    await eng.start(conn)
    start = NOW - timedelta(hours=1)
    for t in every(start, 15):  # 15 minutes above 3000 l/h: the burst opens at the last
        await readings.write("water_meter", "wm-2", [(t, {"flow": 3600.0})])
        await eng.evaluate_reading(conn, Event("reading", "wm-2", "water_meter", t,
                                               {"metric": "flow", "value": 3600.0}))  # fmt: skip
    assert await alerts_of(conn, "burst") == [("wm-2", "open", None)]
    t = start + timedelta(minutes=20)
    await eng.evaluate_reading(
        conn, Event("reading", "wm-2", "water_meter", t, {"metric": "flow", "value": 40.0})
    )
    assert await alerts_of(conn, "burst") == [("wm-2", "resolved", "engine")]
    states = [events._queue.get_nowait().data["state"] for _ in range(2)]  # type: ignore[union-attr]
    assert states == ["open", "resolved"]


async def test_stale_rule_opens_on_silence_and_resolves_on_data(
    alert_settings: Settings, conn: Conn, readings: Readings
) -> None:
    await readings.write("water_meter", "wm-3", [(NOW, {"flow": 10.0})], received_at=NOW)
    # water_meter: 900 s x 4 = one hour without data counts as offline.
    later = engine(alert_settings, now=NOW + timedelta(minutes=61))
    await later.start(conn)
    assert await later.run_scheduled(conn) == 1
    assert await alerts_of(conn, "offline") == [("wm-3", "open", None)]
    alert = (await store.list_alerts(conn, device_id="wm-3"))[0]
    assert alert.details["reason"] == "no_data" and "no data for" in alert.message

    await engine(alert_settings, now=NOW + timedelta(minutes=59)).run_scheduled(conn)
    assert await alerts_of(conn, "offline") == [("wm-3", "resolved", "engine")]


async def test_operator_resolution_holds_until_the_condition_clears(
    alert_settings: Settings, conn: Conn, readings: Readings
) -> None:
    start = NOW - timedelta(minutes=40)
    await readings.write("water_meter", "wm-4", [(t, {"flow": 4000.0}) for t in every(start, 20)])
    eng = engine(alert_settings)
    await eng.start(conn)
    (alert,) = await store.list_alerts(conn, device_id="wm-4")
    await store.resolve(conn, alert.id, actor="kari", note="known; crew on site")
    await eng.run_scheduled(conn)  # the engine learns of it on its next run

    def flow(minute: int, value: float) -> Event:
        t = start + timedelta(minutes=minute)
        return Event("reading", "wm-4", "water_meter", t, {"metric": "flow", "value": value})

    await eng.evaluate_reading(conn, flow(25, 4100.0))  # same episode: stays resolved
    assert await alerts_of(conn, "burst") == [("wm-4", "resolved", "kari")]
    await eng.evaluate_reading(conn, flow(30, 20.0))  # cleared
    for minute in (35, 40, 45, 50):  # a new burst
        await eng.evaluate_reading(conn, flow(minute, 4200.0))
    assert await alerts_of(conn, "burst") == [("wm-4", "resolved", "kari"), ("wm-4", "open", None)]


async def test_disabling_a_rule_resolves_its_alerts(
    alert_settings: Settings, conn: Conn, readings: Readings
) -> None:
    spec = RuleSpec("big draw", "threshold", "water_meter", "flow", parameters={"above": 500})
    rule = await rule_store.create_rule(conn, spec)
    await readings.write("water_meter", "wm-5", [(NOW - timedelta(minutes=1), {"flow": 900.0})])
    eng = engine(alert_settings)
    await eng.start(conn)
    assert await alerts_of(conn, "big draw") == [("wm-5", "open", None)]
    disabled = RuleSpec("big draw", "threshold", "water_meter", "flow",
                        parameters={"above": 500}, enabled=False)  # fmt: skip
    await rule_store.update_rule(conn, rule.id, disabled)
    await eng.run_scheduled(conn)
    assert await alerts_of(conn, "big draw") == [("wm-5", "resolved", "engine")]
    (alert,) = await store.list_alerts(conn, device_id="wm-5")
    assert (await store.alert_history(conn, alert.id))[-1].note == "rule disabled"


async def test_daily_pm10_mean_is_judged_over_the_local_day(
    alert_settings: Settings, conn: Conn, readings: Readings, storage: str
) -> None:
    zone = ZoneInfo(alert_settings.timezone)
    today = NOW.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    yesterday = today - timedelta(days=1)
    # Yesterday (local): 48 half-hourly readings, mean 60 ug/m3 (the limit is 50).
    rows = [
        (t, {"pm10": 40.0 if i % 2 else 80.0}) for i, t in enumerate(every(yesterday, 1410, 30))
    ]
    await readings.write("air_quality", "aq-1", rows)
    eng = engine(alert_settings)
    await eng.start(conn)
    await eng.run_scheduled(conn)
    assert await alerts_of(conn, "pm10_daily_limit") == [("aq-1", "open", None)]
    (alert,) = await store.list_alerts(conn, device_id="aq-1")
    assert alert.value == pytest.approx(60.0) and alert.details["readings"] == 48
    assert alert.details["window_start"] == yesterday.astimezone(UTC).isoformat()

    # The first reading of the new local day starts a new window.
    await readings.write("air_quality", "aq-1", [(today + timedelta(minutes=5), {"pm10": 12.0})])
    await eng.run_scheduled(conn)
    assert await alerts_of(conn, "pm10_daily_limit") == [("aq-1", "resolved", "engine")]


async def test_sql_backed_domain_rules_fire_and_clear(
    alert_settings: Settings, conn: Conn, readings: Readings, storage: str
) -> None:
    for spec in (
        RuleSpec(
            "api_backflow_register",
            "domain",
            "water_meter",
            "volume",
            parameters={"check": "register_backflow"},
        ),
        RuleSpec(
            "api_cycling",
            "domain",
            "street_light",
            "lamp_on",
            parameters={"check": "cycling", "max_switches_per_h": 4},
        ),
        RuleSpec(
            "api_power_band",
            "domain",
            "street_light",
            "power",
            parameters={"check": "power_band", "for_s": 1200},
        ),
        RuleSpec(
            "api_no2_hourly_limit",
            "domain",
            "air_quality",
            "no2",
            parameters={"check": "hourly_limit", "above": 200, "allowed_per_year": 18},
        ),
    ):  # fmt: skip  (named apart from the profiles' defaults, which fire too)
        await rule_store.create_rule(conn, spec)
    hour = NOW.replace(minute=0, second=0) - timedelta(hours=1)
    # Water running back into the mains: the register falls.
    await readings.write("water_meter", "wm-6", [
        (NOW - timedelta(minutes=45), {"volume": 120.040}),
        (NOW - timedelta(minutes=30), {"volume": 120.025}),
        (NOW - timedelta(minutes=15), {"volume": 120.010}),
    ])  # fmt: skip
    # A lamp going on and off every five minutes for an hour.
    await readings.write("street_light", "sl-1", [
        (t, {"lamp_on": float(i % 2)}) for i, t in enumerate(every(NOW - timedelta(hours=1), 55))
    ])  # fmt: skip
    # A 60 W lamp (learned from three earlier hours) now drawing 30 W at full output.
    history = every(NOW - timedelta(hours=6), 170, 10)
    await readings.write(
        "street_light", "sl-2", [(t, {"power": 60.0, "dim_level": 100.0}) for t in history]
    )
    await readings.write("street_light", "sl-2", [
        (t, {"power": 30.0, "dim_level": 100.0}) for t in every(NOW - timedelta(minutes=25), 25)
    ])  # fmt: skip
    # NO2: the last complete clock hour averaged 250 ug/m3 (limit 200).
    await readings.write("air_quality", "aq-2", [
        *[(t, {"no2": 250.0, "pm10": 30.0}) for t in every(hour, 55)],
        (hour + timedelta(minutes=62), {"no2": 90.0, "pm10": 30.0}),
    ])  # fmt: skip

    eng = engine(alert_settings)
    await eng.start(conn)
    await eng.run_scheduled(conn)
    for name, device in (
        ("api_backflow_register", "wm-6"),
        ("api_cycling", "sl-1"),
        ("api_power_band", "sl-2"),
        ("api_no2_hourly_limit", "aq-2"),
    ):
        assert await alerts_of(conn, name) == [(device, "open", None)], name
    (no2,) = [a for a in await store.list_alerts(conn, device_id="aq-2")
              if a.rule_name == "api_no2_hourly_limit"]  # fmt: skip
    assert no2.details["hours_above_this_year"] >= 1 and no2.details["allowed_per_year"] == 18
    (band,) = [a for a in await store.list_alerts(conn, device_id="sl-2")
               if a.rule_name == "api_power_band"]  # fmt: skip
    assert band.details["reference_w"] == pytest.approx(60.0, rel=0.05)
    (aq,) = await air_quality_classes(conn)
    assert (aq.device_id, aq.class_name, aq.hour) == ("aq-2", "high", hour)
    assert aq.means == {"no2": 250.0, "pm10": 30.0}
    assert aq.pollutants == {"no2": "high", "pm10": "low"}

    # Every fault clears.
    await readings.write("water_meter", "wm-6", [(NOW, {"volume": 120.030})])
    await readings.write("street_light", "sl-1", [
        (NOW + timedelta(minutes=5 * i), {"lamp_on": 1.0}) for i in range(1, 13)
    ])  # fmt: skip
    await readings.write(
        "street_light", "sl-2", [(NOW + timedelta(minutes=1), {"power": 61.0, "dim_level": 100.0})]
    )
    await readings.write("air_quality", "aq-2", [
        (hour + timedelta(hours=1, minutes=m), {"no2": 90.0}) for m in range(5, 60, 10)
    ] + [(hour + timedelta(hours=2, minutes=1), {"no2": 80.0})])  # fmt: skip
    await eng.run_scheduled(conn)
    for name in ("api_backflow_register", "api_cycling", "api_power_band", "api_no2_hourly_limit"):
        assert [s for _, s, _ in await alerts_of(conn, name)] == ["resolved"], name


async def test_a_slow_engine_never_blocks_the_bus_and_catches_up_from_the_database(
    alert_settings: Settings, conn: Conn, readings: Readings
) -> None:
    bus = EventBus()
    eng = Engine(
        alert_settings.model_copy(update={"alerts_point_buffer": 100, "alerts_interval_s": 60}),
        _profiles(alert_settings),
        storage="plain",
        bus=bus,
    )
    task = asyncio.create_task(eng.run())
    try:
        await asyncio.wait_for(eng.ready.wait(), 10)
        overflows = metrics.POINT_OVERFLOWS._value.get()
        # A burst of committed readings far beyond the engine's buffer: publishing
        # returns at once (the ingest never waits), the engine's buffer overflows.
        start = NOW - timedelta(minutes=30)
        rows = [(start + timedelta(seconds=s), {"flow": 4000.0}) for s in range(0, 1800, 6)]
        await readings.write("water_meter", "wm-9", rows)
        began = asyncio.get_running_loop().time()
        for t, values in rows:
            bus.publish(Event("reading", "wm-9", "water_meter", t,
                              {"metric": "flow", "value": values["flow"]}))  # fmt: skip
        assert asyncio.get_running_loop().time() - began < 0.5
        for _ in range(100):
            if await alerts_of(conn, "burst"):
                break
            await asyncio.sleep(0.05)
        assert metrics.POINT_OVERFLOWS._value.get() == overflows + 1
        assert await alerts_of(conn, "burst") == [("wm-9", "open", None)]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
