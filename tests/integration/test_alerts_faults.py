"""End to end: simulated devices inject each fault into a real ``hub run`` through
the real broker; the expected alert opens, reaches a real local webhook receiver
(signed) and an MQTT subscriber, and resolves when the fault clears. A hub killed
and restarted raises no duplicate alert and catches the clear it missed.

Readings carry their own (past) timestamps: the rules judge data time, so the
test replays days of simulated data in seconds. Scheduled rules run every 0.5 s.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import paho.mqtt.publish as publish
import pytest

from hub.alerts.domain.water import night_windows
from hub.alerts.sun import sun_elevation
from hub.config import Settings, mqtt_endpoint
from hub.model import Rule
from hub.profiles import load_profiles
from hub.store.db import connect
from simulators import DeviceSpec, FaultWindow, Message, device_messages
from tests.integration.alert_receivers import Receiver, Watcher
from tests.integration.helpers import HubProcess, metric_value, wait_for

ROOT = Path(__file__).resolve().parents[2]
PROFILES = load_profiles(ROOT / "device_profiles")
SITE = (58.15, 8.0)  # Kristiansand: a dark night and a sunlit noon all year round
SECRET = "fault-test-secret"
NOW = datetime.now(UTC).replace(second=0, microsecond=0)


@pytest.fixture
def fault_settings(migrated: Settings) -> Settings:
    return migrated.model_copy(update={"profiles_dir": ROOT / "device_profiles"})


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def start_hub(settings: Settings, log_dir: Path, receiver: Receiver) -> HubProcess:
    hub = HubProcess(
        settings,
        log_dir,
        HUB_ALERTS_INTERVAL_S="0.5",
        HUB_ALERTS_WEBHOOK_URLS=receiver.url,
        HUB_ALERTS_WEBHOOK_SECRET=SECRET,
        HUB_ALERTS_NOTIFY_BACKOFF_S="0.2",
        HUB_ALERTS_SITE_LAT=str(SITE[0]),
        HUB_ALERTS_SITE_LON=str(SITE[1]),
    )
    hub.start()
    hub.wait_ready()
    return hub


def spec(device_id: str, profile: str, fmt: str = "flat") -> DeviceSpec:
    model = profile
    return DeviceSpec(device_id, profile, model, SITE[0], SITE[1], "Sentrum", "Markens gate",
                      fmt, "epoch_ms")  # fmt: skip


def simulate(
    device: DeviceSpec,
    start: datetime,
    end: datetime,
    faults: Sequence[FaultWindow],
    prefix: str,
) -> list[Message]:
    return list(
        device_messages(
            device,
            PROFILES[device.profile],
            start,
            end,
            faults=faults,
            prefix=prefix,
            timezone="Europe/Oslo",
        )
    )


def split(messages: list[Message], at: datetime) -> tuple[list[Message], list[Message]]:
    return [m for m in messages if m.sent_at <= at], [m for m in messages if m.sent_at > at]


def send(settings: Settings, messages: Sequence[Message]) -> None:
    host, port, _, _, _ = mqtt_endpoint(settings.mqtt_url)
    batch = [
        {"topic": m.topic, "payload": m.payload, "qos": 1, "retain": m.retained} for m in messages
    ]
    for i in range(0, len(batch), 500):
        publish.multiple(batch[i : i + 500], hostname=host, port=port)


def hand_made(
    prefix: str, profile: str, device_id: str, rows: Sequence[tuple[datetime, dict[str, float]]]
) -> list[Message]:
    return [
        Message(t, f"{prefix}/{profile}/{device_id}/telemetry",
                orjson.dumps({"ts": int(t.timestamp() * 1000), **values}), False, device_id,
                "telemetry")
        for t, values in rows
    ]  # fmt: skip


def span_where(condition: str, minutes: int) -> datetime:
    """Start of the latest ``minutes``-long span in the last two days, ending an hour
    ago at the latest, in which the sun at SITE is below -6.5 (dark) or above +5 (day).
    At 58 degrees north both exist on every day of the year."""
    t = NOW - timedelta(hours=1, minutes=minutes)
    while t > NOW - timedelta(days=2):
        points = [t + timedelta(minutes=m) for m in range(0, minutes + 1, 5)]
        elevations = [sun_elevation(*SITE, p) for p in points]
        if (condition == "dark" and max(elevations) < -6.5) or (
            condition == "day" and min(elevations) > 5
        ):
            return t
        t -= timedelta(minutes=15)
    raise AssertionError(f"no {condition} span found")


def alert_states(url: str) -> dict[tuple[str, str], list[tuple[str, str | None]]]:
    with connect(url, "test") as conn:
        rows = conn.execute(
            """SELECT r.name, d.device_id, a.state, a.resolved_by FROM alerts a
               JOIN rules r ON r.id = a.rule_id JOIN devices d ON d.id = a.device
               ORDER BY a.id"""
        ).fetchall()
    out: dict[tuple[str, str], list[tuple[str, str | None]]] = {}
    for name, device_id, state, by in rows:
        out.setdefault((name, device_id), []).append((state, by))
    return out


def notified(receiver: Receiver, watcher: Watcher, rule: str, device: str, transition: str) -> bool:
    hook = any(
        b["alert"]["rule_name"] == rule
        and b["alert"]["device_id"] == device
        and b["transition"] == transition
        for b in receiver.bodies()
    )
    mqtt = any(
        topic.endswith(f"/alerts/{m['alert']['profile']}/{device}")
        and m["alert"]["rule_name"] == rule and m["transition"] == transition
        for topic, m in watcher.messages
    )  # fmt: skip
    return hook and mqtt


def test_each_fault_raises_notifies_and_resolves(
    fault_settings: Settings, open_tmp: Path, receiver: Receiver
) -> None:
    prefix = fault_settings.topic_prefix
    phase1: list[Message] = []
    phase2: list[Message] = []

    def add(messages: list[Message], boundary: datetime) -> None:
        first, second = split(messages, boundary)
        phase1.extend(first)
        phase2.extend(second)

    # Leak: 12 l/h night and day for two nights; the third night is quiet again.
    leak_rule = Rule(0, "x", "domain", "water_meter", "flow", None, None, {"end_hour": 5},
                     "warning", None, True, "profile", NOW, NOW)  # fmt: skip
    n1, n2, n3 = night_windows(leak_rule, timezone="Europe/Oslo", until=NOW, count=3)
    leak_end = n2.end + timedelta(minutes=30)
    leak = [FaultWindow("leak", n1.start.timestamp() - 7200, leak_end.timestamp(), {})]
    add(simulate(spec("wm-leak", "water_meter"), n1.start - timedelta(hours=1),
                 n3.end + timedelta(hours=1), leak, prefix), leak_end)  # fmt: skip
    # Burst: 4500 l/h for 40 minutes, then normal use.
    b0 = NOW - timedelta(hours=3)
    burst = [FaultWindow("burst", b0.timestamp(), (b0 + timedelta(minutes=40)).timestamp(), {})]
    add(simulate(spec("wm-burst", "water_meter"), b0 - timedelta(hours=1),
                 b0 + timedelta(hours=1), burst, prefix), b0 + timedelta(minutes=35))  # fmt: skip
    # Lamp outage at night, and a lamp burning by day.
    dark = span_where("dark", 120)
    outage = [FaultWindow("lamp_outage", (dark + timedelta(minutes=20)).timestamp(),
                          (dark + timedelta(minutes=70)).timestamp(), {})]  # fmt: skip
    add(simulate(spec("sl-out", "street_light", "senml"), dark, dark + timedelta(minutes=110),
                 outage, prefix), dark + timedelta(minutes=65))  # fmt: skip
    day = span_where("day", 120)
    burner = [FaultWindow("day_burner", (day + timedelta(minutes=20)).timestamp(),
                          (day + timedelta(minutes=70)).timestamp(), {})]  # fmt: skip
    add(simulate(spec("sl-day", "street_light", "senml"), day, day + timedelta(minutes=110),
                 burner, prefix), day + timedelta(minutes=65))  # fmt: skip
    # An NO2 episode: 260 ug/m3 for 65 minutes, then 120.
    e0 = NOW - timedelta(minutes=80)
    phase1 += hand_made(
        prefix,
        "air_quality",
        "aq-no2",
        [(e0 + timedelta(minutes=m), {"no2": 260.0}) for m in range(0, 70, 5)],
    )
    phase2 += hand_made(prefix, "air_quality", "aq-no2",
                        [(e0 + timedelta(minutes=m), {"no2": 120.0}) for m in (70, 75)])  # fmt: skip
    # A meter that drops off the network (its last will says offline), then returns.
    o0 = NOW - timedelta(hours=2)
    offline = [FaultWindow("offline", (o0 + timedelta(minutes=20)).timestamp(),
                           (o0 + timedelta(minutes=60)).timestamp(), {})]  # fmt: skip
    add(simulate(spec("wm-off", "water_meter"), o0, o0 + timedelta(minutes=90), offline, prefix),
        o0 + timedelta(minutes=40))  # fmt: skip

    expected = [
        ("night_leak", "wm-leak"),
        ("burst", "wm-burst"),
        ("lamp_outage", "sl-out"),
        ("day_burner", "sl-day"),
        ("no2_high", "aq-no2"),
        ("offline", "wm-off"),
    ]
    watcher = Watcher(fault_settings)
    hub = start_hub(fault_settings, open_tmp, receiver)
    try:
        send(fault_settings, phase1)
        for rule, device in expected:
            wait_for(lambda r=rule, d=device: notified(receiver, watcher, r, d, "open"), 30,
                     f"{rule} on {device} opened and notified")  # fmt: skip
        states = alert_states(fault_settings.database_url)
        for key in expected:
            assert states[key] == [("open", None)], key

        send(fault_settings, phase2)
        for rule, device in expected:
            wait_for(lambda r=rule, d=device: notified(receiver, watcher, r, d, "resolved"), 30,
                     f"{rule} on {device} resolved and notified")  # fmt: skip
        states = alert_states(fault_settings.database_url)
        for key in expected:
            assert states[key] == [("resolved", "engine")], key
    finally:
        hub.stop()
        watcher.close()
    for headers, body, _ in receiver.requests:
        signed = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert headers["X-Hub-Signature-256"] == signed
    with connect(fault_settings.database_url, "test") as conn:
        row = conn.execute(
            """SELECT c.class, c.means FROM air_quality_classes c
               JOIN devices d ON d.id = c.device WHERE d.device_id = 'aq-no2'"""
        ).fetchone()
    assert row is not None and row[0] in ("high", "moderate")


def test_killed_hub_restarts_without_duplicates_and_catches_missed_clears(
    fault_settings: Settings, open_tmp: Path, receiver: Receiver
) -> None:
    prefix = fault_settings.topic_prefix
    b0 = NOW - timedelta(hours=3)
    burst = [FaultWindow("burst", b0.timestamp(), (b0 + timedelta(minutes=40)).timestamp(), {})]
    burst_first, burst_then = split(
        simulate(spec("wm-r", "water_meter"), b0 - timedelta(hours=1), b0 + timedelta(hours=1),
                 burst, prefix), b0 + timedelta(minutes=35))  # fmt: skip
    day = span_where("day", 120)
    burner = [FaultWindow("day_burner", (day + timedelta(minutes=20)).timestamp(),
                          (day + timedelta(minutes=70)).timestamp(), {})]  # fmt: skip
    lamp_first, lamp_then = split(
        simulate(spec("sl-r", "street_light", "senml"), day, day + timedelta(minutes=110),
                 burner, prefix), day + timedelta(minutes=65))  # fmt: skip
    expected = [("burst", "wm-r"), ("day_burner", "sl-r")]

    def opens() -> list[tuple[str, str]]:
        return sorted(
            (b["alert"]["rule_name"], b["alert"]["device_id"])
            for b in receiver.bodies()
            if b["transition"] == "open"
        )

    watcher = Watcher(fault_settings)
    hub = start_hub(fault_settings, open_tmp, receiver)
    try:
        send(fault_settings, burst_first + lamp_first)
        for rule, device in expected:
            wait_for(lambda r=rule, d=device: notified(receiver, watcher, r, d, "open"), 30,
                     f"{rule} on {device} opened")  # fmt: skip

        # Killed while both faults persist: the restarted hub adds nothing.
        hub.kill()
        hub.start()
        hub.wait_ready()
        wait_for(lambda: "alert engine: " in hub.log_tail(), 10, "the engine to start")
        wait_for(
            lambda: metric_value(hub.port, "hub_alert_evaluation_seconds_count") >= 4,
            20,
            "four scheduled runs (every 0.5 s) with both faults still present",
        )
        states = alert_states(fault_settings.database_url)
        assert [states[key] for key in expected] == [[("open", None)]] * 2
        assert opens() == sorted(expected)

        # Killed again; the faults clear while it is down (the broker keeps the readings).
        hub.kill()
        send(fault_settings, burst_then + lamp_then)
        hub.start()
        hub.wait_ready()
        for rule, device in expected:
            wait_for(lambda r=rule, d=device: notified(receiver, watcher, r, d, "resolved"), 30,
                     f"{rule} on {device} resolved after the restart")  # fmt: skip
        states = alert_states(fault_settings.database_url)
        assert [states[key] for key in expected] == [[("resolved", "engine")]] * 2
        assert opens() == sorted(expected)  # one open per fault, across three hub runs
    finally:
        hub.stop()
        watcher.close()
