"""Fault tests: the hub, the broker or the database goes away mid-stream, and still
every reading ends up in the database exactly once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub.config import Settings
from hub.devstack import Devstack
from tests.integration.helpers import (
    HubProcess,
    SeqPublisher,
    metric_value,
    missing_sequences,
    stored_counts,
    wait_for,
)


def _committed(settings: Settings, publisher: SeqPublisher) -> int:
    return stored_counts(settings.database_url, publisher.devices)[0]


def _before_fault(settings: Settings, publisher: SeqPublisher, after: int = 0) -> int:
    """Wait until more than ``after`` readings are committed, and check that the
    stream is not over: the fault that follows lands mid-stream. Returns the count."""
    wait_for(lambda: _committed(settings, publisher) > after, 60, f"more than {after} readings")
    committed = _committed(settings, publisher)
    assert committed < publisher.total * 3, f"all {committed} readings in before the fault"
    assert publisher.published < publisher.total, "the publisher finished before the fault"
    return committed


def _committed_after(settings: Settings, publisher: SeqPublisher, before: int) -> None:
    wait_for(lambda: _committed(settings, publisher) > before, 60, "readings after the fault")


def _assert_exactly_once(settings: Settings, publisher: SeqPublisher, timeout: float = 90) -> None:
    expected = publisher.total * 3
    wait_for(
        lambda: stored_counts(settings.database_url, publisher.devices)[0] >= expected,
        timeout,
        f"{expected} readings",
        every=0.5,
    )
    assert missing_sequences(settings.database_url, publisher.devices, publisher.messages) == {}
    assert stored_counts(settings.database_url, publisher.devices) == (expected, expected)


@pytest.fixture
def hub(migrated: Settings, tmp_path: Path) -> Iterator[HubProcess]:
    process = HubProcess(migrated, tmp_path).start()
    process.wait_ready()
    yield process
    process.stop()


def test_hub_killed_three_times_mid_stream_loses_and_duplicates_nothing(
    migrated: Settings, hub: HubProcess
) -> None:
    # 12.5 s of traffic: room for three restarts of the hub on a busy machine.
    publisher = SeqPublisher(
        migrated, devices=4, messages=2500, rate=800, client_id=f"pub-{migrated.topic_prefix}"
    ).start()
    committed = 0
    for _ in range(3):
        committed = _before_fault(migrated, publisher, after=committed)
        hub.kill()
        acked = publisher.acked
        wait_for(lambda a=acked: publisher.acked > a + 400, 10, "messages while the hub is down")
        hub.start()
    _committed_after(migrated, publisher, committed)
    publisher.wait()
    _assert_exactly_once(migrated, publisher)


def test_broker_restart_mid_stream_loses_and_duplicates_nothing(
    migrated: Settings, hub: HubProcess, stack: Devstack
) -> None:
    publisher = SeqPublisher(
        migrated, devices=4, messages=1500, rate=800, client_id=f"pub-{migrated.topic_prefix}"
    ).start()
    committed = _before_fault(migrated, publisher)
    stack.mosquitto.stop()
    acked = publisher.acked
    wait_for(lambda: publisher.published > acked + 800, 10, "publishing while it is down")
    stack.mosquitto.start()
    wait_for(lambda: publisher.acked > acked, 30, "the broker to take messages again")
    committed = _before_fault(migrated, publisher, after=_committed(migrated, publisher))
    stack.mosquitto.stop()
    stack.mosquitto.start()
    _committed_after(migrated, publisher, committed)
    publisher.wait()
    _assert_exactly_once(migrated, publisher)


def test_database_down_30s_pauses_ingest_with_flat_memory_then_catches_up(
    migrated: Settings, stack: Devstack, tmp_path: Path
) -> None:
    hub = HubProcess(
        migrated, tmp_path, HUB_MQTT_RECEIVE_MAXIMUM="2000", HUB_BATCH_MAX_MESSAGES="500"
    ).start()
    try:
        hub.wait_ready()
        publisher = SeqPublisher(
            migrated, devices=4, messages=9000, rate=1000, client_id=f"pub-{migrated.topic_prefix}"
        ).start()
        committed = _before_fault(migrated, publisher)
        stack.postgres.stop()
        samples: list[float] = []
        down_since = time.monotonic()
        while time.monotonic() - down_since < 30:
            samples.append(hub.rss_mb())
            time.sleep(1)
        ready = httpx.get(f"http://127.0.0.1:{hub.port}/readyz", timeout=5)
        stack.postgres.start()
        assert ready.status_code == 503 and ready.json()["database"] is False
        assert hub.proc is not None and hub.proc.poll() is None, "the hub died"
        # Flat: once the receive maximum is reached, the broker keeps the backlog.
        later = samples[10:]
        assert max(later) - min(later) < 15, f"RSS while the database was down: {samples}"
        assert max(samples) < 300, f"RSS while the database was down: {samples}"
        _committed_after(migrated, publisher, committed)
        publisher.wait()
        _assert_exactly_once(migrated, publisher, timeout=120)
    finally:
        hub.stop()


def test_two_hubs_on_a_shared_subscription_store_each_reading_once(
    migrated: Settings, tmp_path: Path
) -> None:
    hubs = [
        HubProcess(
            migrated,
            tmp_path,
            HUB_MQTT_SHARE_GROUP="ingest",
            HUB_MQTT_CLIENT_ID=f"{migrated.mqtt_client_id}-{n}",
        ).start()
        for n in (1, 2)
    ]
    try:
        for hub in hubs:
            hub.wait_ready()
        publisher = SeqPublisher(
            migrated, devices=4, messages=500, rate=1500, client_id=f"pub-{migrated.topic_prefix}"
        ).start()
        publisher.wait()
        _assert_exactly_once(migrated, publisher)
        taken = [
            metric_value(hub.port, 'hub_ingest_messages_total{kind="telemetry"}') for hub in hubs
        ]
        assert all(n > 0 for n in taken), f"messages per hub: {taken}"
        assert sum(taken) == publisher.total
    finally:
        for hub in hubs:
            hub.stop()
