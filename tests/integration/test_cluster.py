"""Several hub processes on one database and one shared subscription: roles,
the one alert engine, and readings passed between processes (docs/operations.md,
"From one box to a region")."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from bench.publisher import Qos1Publisher
from hub.config import Settings, mqtt_endpoint
from hub.model import RuleSpec
from hub.store import rules as rule_store
from hub.store.db import aconnect, connect
from tests.integration.alert_receivers import Receiver
from tests.integration.helpers import (
    HubProcess,
    SeqPublisher,
    metric_value,
    missing_sequences,
    stored_counts,
    telemetry,
    wait_for,
)

ACTIVE = "hub_alerts_engine_active"
INTERVAL_S = 1.0


def _hub(settings: Settings, tmp_path: Path, n: int, roles: str, **env: str) -> HubProcess:
    return HubProcess(
        settings,
        tmp_path,
        HUB_ROLES=roles,
        HUB_READINGS_NOTIFY="true",
        HUB_MQTT_SHARE_GROUP="ingest",
        HUB_MQTT_CLIENT_ID=f"{settings.mqtt_client_id}-{n}",
        HUB_ALERTS_INTERVAL_S=str(INTERVAL_S),
        HUB_OPEN_DATA="true",
        **env,
    )


def _active(hub: HubProcess) -> float:
    try:
        return metric_value(hub.port, ACTIVE)
    except httpx.HTTPError:
        return 0.0  # killed or starting: not active


def test_an_api_only_process_streams_readings_another_process_ingested(
    migrated: Settings, tmp_path: Path
) -> None:
    ingest = _hub(migrated, tmp_path, 1, "ingest").start()
    api = _hub(migrated, tmp_path, 2, "api").start()
    try:
        ingest.wait_ready()
        api.wait_ready()
        # The ingest-only process serves no API, only the operations endpoints.
        assert httpx.get(f"http://127.0.0.1:{ingest.port}/api/v1/devices").status_code == 404
        assert metric_value(ingest.port, 'hub_process_role{role="ingest"}') == 1
        assert metric_value(ingest.port, 'hub_process_role{role="api"}') == 0
        wait_for(lambda: metric_value(api.port, "hub_cluster_listening") == 1, 20, "listening")
        received: list[str] = []
        connected = threading.Event()

        def listen() -> None:
            url = f"http://127.0.0.1:{api.port}/api/v1/stream?type=reading&device=lm-x1"
            with httpx.stream("GET", url, timeout=30) as response:
                connected.set()
                for line in response.iter_lines():
                    if line.startswith("data:"):
                        received.append(line)
                        return

        reader = threading.Thread(target=listen, daemon=True)
        reader.start()
        assert connected.wait(10)
        host, port, _, _, _ = mqtt_endpoint(migrated.mqtt_url)
        publisher = Qos1Publisher("pub-sse", persistent=False, max_inflight=10)
        publisher.connect(host, port, keepalive=10)
        publisher.publish(f"{migrated.topic_prefix}/load_meter/lm-x1/telemetry", telemetry(7))
        publisher.wait_acked(10)
        publisher.close()
        reader.join(20)
        assert received and '"lm-x1"' in received[0], received
    finally:
        api.stop()
        ingest.stop()


def _threshold_rule(settings: Settings, above: float) -> int:
    async def create() -> int:
        async with await aconnect(settings.database_url, "test", autocommit=True) as conn:
            spec = RuleSpec("a high", "threshold", "load_meter", "a", parameters={"above": above})
            return (await rule_store.create_rule(conn, spec)).id

    return asyncio.run(create())


def test_three_processes_one_killed_every_few_seconds_lose_and_repeat_nothing(
    migrated: Settings, tmp_path: Path
) -> None:
    messages, devices = 1200, 3
    # a = seq/10: each device crosses 60 at seq 601, in the middle of the stream.
    rule_id = _threshold_rule(migrated, above=60.0)
    receiver = Receiver()
    env = {"HUB_ALERTS_WEBHOOK_URLS": receiver.url, "HUB_ALERTS_NOTIFY_BACKOFF_S": "0.2"}
    hubs = [
        _hub(migrated, tmp_path, 1, "ingest,alerts", **env).start(),
        _hub(migrated, tmp_path, 2, "ingest,api,alerts", **env).start(),
        _hub(migrated, tmp_path, 3, "ingest,api", **env).start(),
    ]
    samples: list[list[float]] = []
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.is_set():
            samples.append([_active(hub) for hub in hubs])
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    try:
        for hub in hubs:
            hub.wait_ready()
        wait_for(lambda: sum(_active(h) for h in hubs) == 1, 20, "one active engine")
        sampler.start()
        publisher = SeqPublisher(
            migrated, devices=devices, messages=messages, rate=300, client_id="pub-cluster"
        ).start()
        takeovers: list[float] = []
        victim = 0
        while publisher.published < publisher.total:
            time.sleep(2.0)
            leader = next((i for i, h in enumerate(hubs) if _active(h) == 1), None)
            # Every second kill hits the active engine; the others an ingest process.
            target = leader if victim % 2 == 0 and leader is not None else victim % 3
            victim += 1
            killed_at = time.monotonic()
            hubs[target].kill()
            if target == leader:
                others = [h for i, h in enumerate(hubs) if i != target]
                wait_for(
                    lambda others=others: any(_active(h) == 1 for h in others),  # type: ignore[misc]
                    10,
                    "a takeover",
                    0.05,
                )
                takeovers.append(time.monotonic() - killed_at)
            hubs[target].start().wait_ready()  # so a standby is up before the next kill
        publisher.wait()
        expected = publisher.total * 3
        wait_for(
            lambda: stored_counts(migrated.database_url, publisher.devices)[0] >= expected,
            90,
            f"{expected} readings",
            every=0.5,
        )
        assert missing_sequences(migrated.database_url, publisher.devices, messages) == {}
        assert stored_counts(migrated.database_url, publisher.devices) == (expected, expected)
        assert len(takeovers) >= 2, takeovers
        assert max(takeovers) <= 2 * INTERVAL_S + 1.0, takeovers  # + the kill and the scrape

        # Exactly one alert per device, and each opening delivered once.
        with connect(migrated.database_url, "test") as conn:
            opened = conn.execute(
                "SELECT count(*), count(DISTINCT device) FROM alerts WHERE rule_id = %s",
                (rule_id,),
            ).fetchone()
        assert opened == (devices, devices)

        def deliveries() -> Counter[int]:
            return Counter(
                b["alert"]["id"]
                for b in receiver.bodies()
                if b["transition"] == "open" and b["alert"]["rule_id"] == rule_id
            )

        wait_for(lambda: len(deliveries()) == devices, 30, "the webhooks of the openings")
        assert set(deliveries().values()) == {1}, deliveries()
    finally:
        sampling.set()
        for hub in hubs:
            hub.stop()
        receiver.close()
    assert samples and max(sum(s) for s in samples) <= 1, "two active engines at once"
    assert any(sum(s) == 1 for s in samples)
