"""The ingest against real Mosquitto and PostgreSQL: every reading exactly once,
bad messages kept whole as dead letters, devices and their status registered."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import paho.mqtt.publish as publish
import pytest

from hub.config import Settings, mqtt_endpoint
from hub.store.db import connect
from tests.integration.helpers import (
    BASE_TS_MS,
    HubProcess,
    SeqPublisher,
    metric_value,
    missing_sequences,
    stored_counts,
    telemetry,
    wait_for,
)


@pytest.fixture
def hub(migrated: Settings, tmp_path: Path) -> HubProcess:
    process = HubProcess(migrated, tmp_path).start()
    process.wait_ready()
    yield process
    process.stop()


def _publish(settings: Settings, messages: list[tuple[str, bytes]], retain: bool = False) -> None:
    host, port, _, _, _ = mqtt_endpoint(settings.mqtt_url)
    publish.multiple(
        [{"topic": t, "payload": p, "qos": 1, "retain": retain} for t, p in messages],
        hostname=host,
        port=port,
    )


def test_every_reading_is_stored_once_at_each_storage_level(
    storage: str, migrated: Settings, hub: HubProcess
) -> None:
    publisher = SeqPublisher(migrated, devices=4, messages=300, rate=2000).start()
    publisher.wait()
    expected = publisher.total * 3
    wait_for(
        lambda: stored_counts(migrated.database_url, publisher.devices)[0] >= expected,
        60,
        "all readings",
    )
    assert stored_counts(migrated.database_url, publisher.devices) == (expected, expected)
    assert missing_sequences(migrated.database_url, publisher.devices, 300) == {}


def test_rollups_count_each_reading_once_even_when_redelivered(
    storage: str, migrated: Settings, hub: HubProcess
) -> None:
    topic = f"{migrated.topic_prefix}/load_meter/lm-roll/telemetry"
    # 120 messages one second apart: two minutes of one hour, sent twice.
    messages = [(topic, telemetry(seq)) for seq in range(120)]
    _publish(migrated, messages)
    _publish(migrated, messages)
    wait_for(lambda: stored_counts(migrated.database_url, ["lm-roll"])[0] >= 360, 30, "readings")
    with connect(migrated.database_url, "test", autocommit=True) as conn:
        if storage == "timescale":
            conn.execute("CALL refresh_continuous_aggregate('readings_1h', NULL, NULL)")
        row = conn.execute(
            """SELECT h.count, h.sum, h.min, h.max, h.first, h.last
               FROM readings_1h h JOIN series s ON s.id = h.series_id
               JOIN devices d ON d.id = s.device
               WHERE d.device_id = 'lm-roll' AND s.metric = 'seq'"""
        ).fetchall()
    assert row == [(120, float(sum(range(120))), 0.0, 119.0, 0.0, 119.0)]


def test_bad_messages_become_dead_letters_with_their_reason(
    migrated: Settings, hub: HubProcess
) -> None:
    prefix = migrated.topic_prefix
    good = f"{prefix}/load_meter/lm-good/telemetry"
    cases: list[tuple[str, bytes, str]] = [
        (f"{prefix}/load_meter/lm-bad/telemetry", b"{not json", "decode"),
        (f"{prefix}/no_such_profile/x-1/telemetry", telemetry(1), "unknown_profile"),
        (
            f"{prefix}/load_meter/lm-bad/telemetry",
            b'{"ts": 1767225600000, "nope": 1}',
            "unknown_metric",
        ),
        (
            f"{prefix}/load_meter/lm-bad/telemetry",
            b'{"ts": 1767225600000, "a": "warm"}',
            "wrong_type",
        ),
        (
            f"{prefix}/load_meter/lm-bad/telemetry",
            b'{"ts": 1767225600000, "a": 1e12}',
            "implausible_value",
        ),
        (
            f"{prefix}/load_meter/lm-bad/telemetry",
            b'{"ts": "yesterday-ish", "a": 1}',
            "bad_timestamp",
        ),
        (f"{prefix}/load_meter/lm-bad/telemetry", b"{}", "empty"),
        (f"{prefix}/load_meter/lm-bad/telemetry", b"x" * 70000, "oversize"),
        (f"{prefix}/load_meter/bad id!/telemetry", telemetry(1), "bad_topic"),
    ]
    stream: list[tuple[str, bytes]] = []
    for seq, (topic, payload, _) in enumerate(cases):
        stream.append((good, telemetry(seq)))
        stream.append((topic, payload))
    _publish(migrated, stream)

    def dead_letters() -> list[tuple[str, bytes, str]]:
        with connect(migrated.database_url, "test") as conn:
            rows = conn.execute("SELECT topic, payload, reason FROM dead_letters ORDER BY id")
            return [(t, bytes(p), r) for t, p, r in rows.fetchall()]

    wait_for(lambda: len(dead_letters()) >= len(cases), 30, "dead letters")
    wait_for(
        lambda: stored_counts(migrated.database_url, ["lm-good"])[0] >= 3 * len(cases),
        30,
        "good readings",
    )
    assert sorted(dead_letters()) == sorted(cases)
    assert stored_counts(migrated.database_url, ["lm-good"]) == (3 * len(cases),) * 2


def test_devices_register_on_first_message_and_follow_their_status(
    migrated: Settings, hub: HubProcess
) -> None:
    prefix = migrated.topic_prefix
    _publish(migrated, [(f"{prefix}/load_meter/lm-new/telemetry", telemetry(5))])
    _publish(migrated, [(f"{prefix}/load_meter/lm-new/status", b"online")], retain=True)

    def device() -> tuple[object, ...] | None:
        with connect(migrated.database_url, "test") as conn:
            return conn.execute(
                "SELECT profile, status, last_seen IS NOT NULL FROM devices "
                "WHERE device_id = 'lm-new'"
            ).fetchone()

    wait_for(lambda: device() == ("load_meter", "online", True), 30, "device online")
    _publish(migrated, [(f"{prefix}/load_meter/lm-new/status", b"offline")], retain=True)
    wait_for(lambda: device() == ("load_meter", "offline", True), 30, "device offline")
    # clean up the retained message of this prefix
    _publish(migrated, [(f"{prefix}/load_meter/lm-new/status", b"")], retain=True)


def test_unknown_devices_are_dead_letters_when_registration_is_off(
    migrated: Settings, tmp_path: Path
) -> None:
    hub = HubProcess(migrated, tmp_path, HUB_AUTO_REGISTER_DEVICES="false").start()
    try:
        hub.wait_ready()
        topic = f"{migrated.topic_prefix}/load_meter/lm-stranger/telemetry"
        _publish(migrated, [(topic, telemetry(1))])

        def reasons() -> list[tuple[str, str]]:
            with connect(migrated.database_url, "test") as conn:
                return conn.execute("SELECT reason, device_id FROM dead_letters").fetchall()

        wait_for(lambda: bool(reasons()), 30, "a dead letter")
        assert reasons() == [("unknown_device", "lm-stranger")]
        assert stored_counts(migrated.database_url, ["lm-stranger"]) == (0, 0)
    finally:
        hub.stop()


def test_a_device_publishing_under_another_profile_is_refused(
    migrated: Settings, hub: HubProcess
) -> None:
    prefix = migrated.topic_prefix
    _publish(migrated, [(f"{prefix}/load_meter/lm-x/telemetry", telemetry(1))])
    wait_for(lambda: stored_counts(migrated.database_url, ["lm-x"])[0] == 3, 30, "readings")
    profiles_dir = Path(migrated.profiles_dir)
    assert (profiles_dir / "load_meter.yaml").exists()
    payload = orjson.dumps({"ts": BASE_TS_MS, "seq": 1})
    _publish(migrated, [(f"{prefix}/load_meter_two/lm-x/telemetry", payload)])

    def reasons() -> list[tuple[str]]:
        with connect(migrated.database_url, "test") as conn:
            return conn.execute("SELECT reason FROM dead_letters").fetchall()

    wait_for(lambda: bool(reasons()), 30, "a dead letter")
    assert reasons() == [("profile_mismatch",)]


def test_clean_stop_acknowledges_everything_committed(migrated: Settings, hub: HubProcess) -> None:
    publisher = SeqPublisher(
        migrated, devices=2, messages=500, rate=2000, client_id=f"pub-{migrated.topic_prefix}"
    ).start()
    publisher.wait()
    wait_for(
        lambda: stored_counts(migrated.database_url, publisher.devices)[0] >= publisher.total * 3,
        60,
        "all readings",
    )
    hub.stop()  # SIGTERM
    hub.start()
    hub.wait_ready()
    # A redelivery would come first on the resumed session: a status message sent
    # now is taken in after it, and once that one is committed (and nothing is in
    # flight any more) every redelivery would have been counted.
    device = publisher.devices[0]
    _publish(migrated, [(f"{migrated.topic_prefix}/load_meter/{device}/status", b"online")])
    wait_for(
        lambda: metric_value(hub.port, 'hub_ingest_messages_total{kind="status"}') == 1,
        30,
        "the status marker to be committed",
    )
    wait_for(
        lambda: (
            metric_value(hub.port, "hub_ingest_unacked") == 0
            and metric_value(hub.port, "hub_ingest_queue_depth") == 0
        ),
        10,
        "nothing in flight",
    )
    # Nothing is redelivered: the first process acknowledged all it had committed.
    assert metric_value(hub.port, 'hub_ingest_messages_total{kind="telemetry"}') == 0


def test_sigterm_with_an_open_live_stream_stops_promptly(
    migrated: Settings, tmp_path: Path
) -> None:
    import threading

    import httpx

    hub = HubProcess(migrated, tmp_path, HUB_OPEN_DATA="true").start()
    hub.wait_ready()
    opened = threading.Event()

    def listen() -> None:
        try:
            with httpx.stream(
                "GET", f"http://127.0.0.1:{hub.port}/api/v1/stream", timeout=30
            ) as response:
                opened.set()
                for _ in response.iter_lines():
                    pass
        except httpx.HTTPError:
            pass

    threading.Thread(target=listen, daemon=True).start()
    assert opened.wait(10)
    started = time.monotonic()
    hub.stop()
    assert hub.proc is not None and hub.proc.returncode == 0
    assert time.monotonic() - started < 10
