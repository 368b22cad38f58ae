"""Several hub processes on one database and one shared subscription: roles,
the one alert engine, and readings passed between processes (docs/operations.md,
"From one box to a region")."""

from __future__ import annotations

import asyncio
import io
import itertools
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import orjson
import pytest

from bench.publisher import Qos1Publisher
from hub.commands.apikeys import create as create_key
from hub.config import Settings, mqtt_endpoint
from hub.model import RuleSpec
from hub.store import rules as rule_store
from hub.store.db import aconnect, connect
from hub.store.provisioning import register
from tests.integration.alert_receivers import Receiver
from tests.integration.api_helpers import SHIPPED_PROFILES
from tests.integration.helpers import (
    HubProcess,
    SeqPublisher,
    engine_marks,
    metric_value,
    missing_sequences,
    stored_counts,
    wait_for,
)
from tests.integration.ngsi_receiver import Receiver as NgsiReceiver

ACTIVE = "hub_alerts_engine_active"
PUSHING = 'hub_cluster_leading{work="ngsi_push"}'
UPKEEP = 'hub_cluster_leading{work="maintenance"}'


def _air() -> bytes:
    """An air_quality message (a shipped profile with an NGSI-LD type, public data:
    open to the stream without a key and pushed), stamped now."""
    now = int(time.time() * 1000)
    return orjson.dumps({"ts": now, "pm10": 12.5, "no2": 40.0, "battery": 90})


INTERVAL_S = 2.0  # the takeover bound is two of them
# A restart on a machine whose cores are shared with other test suites can take
# long (imports alone took 29 s at a load average of 18): a bound, not a wait.
READY_S = 120.0
ALARM = 50_000.0  # the threshold: the sequence traffic (a = seq / 10, seq < 100,000) stays below


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
        HUB_LOG_FORMAT="json",
        **env,
    )


def _first_event(port: int, query: str) -> tuple[threading.Thread, list[str]]:
    """A live-stream client of the process on ``port``, connected when this returns:
    the thread ends with the first event's data line in the list."""
    received: list[str] = []
    connected = threading.Event()

    def listen() -> None:
        url = f"http://127.0.0.1:{port}/api/v1/stream?{query}"
        with httpx.stream("GET", url, timeout=30) as response:
            connected.set()
            for line in response.iter_lines():
                if line.startswith("data:"):
                    received.append(line)
                    return

    reader = threading.Thread(target=listen, daemon=True)
    reader.start()
    assert connected.wait(10)
    return reader, received


def test_an_api_only_process_streams_readings_another_process_ingested(
    migrated: Settings, tmp_path: Path
) -> None:
    broker = NgsiReceiver().start()  # a context broker for the NGSI-LD push
    push = {
        "HUB_NGSI_LD_BROKER_URL": broker.url,
        "HUB_NGSI_LD_PUSH_INTERVAL_S": "0.2",
        "HUB_PROFILES_DIR": str(SHIPPED_PROFILES),  # with their NGSI-LD types
    }
    api = _hub(migrated, tmp_path, 2, "api", **push).start()
    ingest = _hub(migrated, tmp_path, 1, "ingest", **push)
    try:
        api.wait_ready()
        # The push runs in one process: the API-only one took it first, the other stands by.
        wait_for(lambda: metric_value(api.port, PUSHING) == 1, 20, "the push lock")
        ingest.start().wait_ready()
        # The ingest-only process serves no API, only the operations endpoints.
        assert httpx.get(f"http://127.0.0.1:{ingest.port}/api/v1/devices").status_code == 404
        assert metric_value(ingest.port, 'hub_process_role{role="ingest"}') == 1
        assert metric_value(ingest.port, 'hub_process_role{role="api"}') == 0
        # The HTTP ingest belongs to the ingest role: an API-only process says so.
        key = create_key(migrated, role="ingest", name="test ingest", out=io.StringIO())
        refused = httpx.post(
            f"http://127.0.0.1:{api.port}/api/v1/ingest/air_quality/aq-x1",
            content=_air(),
            headers={"X-API-Key": key},
        )
        assert refused.status_code == 503
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["role"] == "ingest" and "HUB_ROLES=api" in refused.json()["detail"]
        assert "Retry-After" in refused.headers
        wait_for(lambda: metric_value(api.port, "hub_cluster_listening") == 1, 20, "listening")
        reader, received = _first_event(api.port, "type=reading&device=aq-x1")
        host, port, _, _, _ = mqtt_endpoint(migrated.mqtt_url)
        publisher = Qos1Publisher("pub-sse", persistent=False, max_inflight=10)
        publisher.connect(host, port, keepalive=10)
        publisher.publish(f"{migrated.topic_prefix}/air_quality/aq-x1/telemetry", _air())
        publisher.wait_acked(10)
        publisher.close()
        reader.join(20)
        assert received and '"aq-x1"' in received[0], received
        # The pusher took the other process's reading from the channel and sent it.
        wait_for(
            lambda: any("aq-x1" in e["id"] for e in broker.entities()), 20, "the entity pushed"
        )
        assert metric_value(ingest.port, PUSHING) == 0
    finally:
        api.stop()
        ingest.stop()
        broker.stop()


def test_one_process_keeps_the_silence_watch_and_every_stream_sees_its_status_changes(
    migrated: Settings, tmp_path: Path
) -> None:
    shipped = {"HUB_PROFILES_DIR": str(SHIPPED_PROFILES)}
    ingest = _hub(migrated, tmp_path, 1, "ingest", **shipped).start()
    api = _hub(migrated, tmp_path, 2, "api", **shipped)
    try:
        ingest.wait_ready()
        wait_for(lambda: metric_value(ingest.port, UPKEEP) == 1, 20, "the upkeep lock")
        api.start().wait_ready()
        wait_for(lambda: metric_value(api.port, "hub_cluster_listening") == 1, 20, "listening")
        assert metric_value(api.port, UPKEEP) == 0, "two processes keep up the hub"
        with connect(migrated.database_url, "test", autocommit=True) as conn:
            register(conn, [{"device_id": "aq-quiet", "profile": "air_quality", "lat": None,
                             "lon": None, "district": None, "dev_eui": None, "external_id": None}])  # fmt: skip
        reader, received = _first_event(api.port, "type=status&device=aq-quiet")
        # Heard two days ago: the ingest-only process's silence watch marks it offline,
        # and the API-only process streams the change it did not make.
        with connect(migrated.database_url, "test", autocommit=True) as conn:
            conn.execute(
                "UPDATE devices SET last_seen = now() - interval '2 days' "
                "WHERE device_id = 'aq-quiet'"
            )
        reader.join(25)
        assert received and '"offline"' in received[0], received

        # The holder gone, the other process takes the upkeep over.
        ingest.kill()
        wait_for(lambda: metric_value(api.port, UPKEEP) == 1, 20, "the upkeep taken over")
    finally:
        api.stop()
        ingest.stop()


def _threshold_rule(settings: Settings, above: float) -> int:
    async def create() -> int:
        async with await aconnect(settings.database_url, "test", autocommit=True) as conn:
            spec = RuleSpec("a high", "threshold", "load_meter", "a", parameters={"above": above})
            return (await rule_store.create_rule(conn, spec)).id

    return asyncio.run(create())


def _engine_log(hub: HubProcess, run: int) -> list[tuple[float, str]]:
    """The alert engine's marks in one run of a hub."""
    return engine_marks(hub.log_dir / f"hub-{hub.port}-{run}.log")


class Cluster:
    """The hubs of the test, with when each run of each was killed."""

    def __init__(self, hubs: list[HubProcess]) -> None:
        self.hubs = hubs
        self.killed: dict[tuple[int, int], float] = {}  # (hub, run) -> wall time of the kill

    def kill(self, i: int) -> float:
        at = time.time()  # before the signal: the run surely ended after it
        self.killed[i, self.hubs[i].starts] = at
        self.hubs[i].kill()
        return at

    def leader(self) -> int:
        """The one hub whose current run's engine is active (waits for one)."""
        found: list[int] = []

        def one() -> bool:
            found[:] = [
                i
                for i, h in enumerate(self.hubs)
                if (m := _engine_log(h, h.starts)) and m[-1][1] == "active"
            ]
            return len(found) == 1

        wait_for(one, 30, "one active alert engine")
        return found[0]

    def took_over(self, i: int, since: float) -> float:
        """Seconds from ``since`` until hub ``i``'s engine became active (waits for it)."""
        hub = self.hubs[i]
        wait_for(
            lambda: any(at > since and m == "active" for at, m in _engine_log(hub, hub.starts)),
            30,
            "a takeover",
        )
        return (
            min(a for a, m in _engine_log(hub, hub.starts) if a > since and m == "active") - since
        )

    def terms(self) -> list[tuple[float, float, str]]:
        """Every term of an active engine: (start, end, which run); end is when it
        stepped down, or the kill, or +inf for one still running."""
        terms = []
        for i, hub in enumerate(self.hubs):
            for run in range(1, hub.starts + 1):
                start: float | None = None
                for at, mark in _engine_log(hub, run):
                    if mark == "active":
                        start = at
                    elif start is not None:
                        terms.append((start, at, f"hub {i} run {run}"))
                        start = None
                if start is not None:
                    end = self.killed.get((i, run), float("inf"))
                    terms.append((start, end, f"hub {i} run {run}"))
        return sorted(terms)


def _alarm(port: int, key: str, device: str) -> None:
    """One reading over the threshold, over the HTTP ingest: committed when it answers."""
    body = orjson.dumps({"ts": int(time.time() * 1000), "a": ALARM * 5})
    r = httpx.post(
        f"http://127.0.0.1:{port}/api/v1/ingest/load_meter/{device}",
        content=body,
        headers={"X-API-Key": key},
        timeout=30,
    )
    assert r.status_code == 200, r.text


# Six starts of a hub: about 100 s on a quiet machine, up to 7 minutes at a load
# average of 30 (a start then takes about a minute).
@pytest.mark.timeout(900)
def test_three_processes_killed_in_turn_lose_and_repeat_nothing_one_engine_at_a_time(
    migrated: Settings, tmp_path: Path
) -> None:
    rule_id = _threshold_rule(migrated, above=ALARM)
    key = create_key(migrated, role="ingest", name="test ingest", out=io.StringIO())
    receiver = Receiver()
    env = {"HUB_ALERTS_WEBHOOK_URLS": receiver.url, "HUB_ALERTS_NOTIFY_BACKOFF_S": "0.2"}
    cluster = Cluster(
        [
            _hub(migrated, tmp_path, 1, "ingest,alerts", **env),
            _hub(migrated, tmp_path, 2, "ingest,api,alerts", **env),
            _hub(migrated, tmp_path, 3, "ingest,api", **env),
        ]
    )
    hubs = cluster.hubs
    engines = (0, 1)  # the hubs with the alerts role
    try:
        for hub in hubs:
            hub.start()
        for hub in hubs:
            hub.wait_ready(READY_S)
        publisher = SeqPublisher(
            migrated, devices=3, messages=100_000, rate=200, client_id="pub-cluster"
        ).start()
        wait_for(lambda: stored_counts(migrated.database_url, publisher.devices)[0] > 0, 30, "a")
        takeovers: list[float] = []

        # 1. The active engine is killed: the standby takes over; the victim comes back.
        active = cluster.leader()
        killed_at = cluster.kill(active)
        takeovers.append(cluster.took_over(1 - active, killed_at))
        hubs[active].start().wait_ready(READY_S)
        # 2. An ingest-only process is killed mid-stream and restarted.
        cluster.kill(2)
        hubs[2].start().wait_ready(READY_S)
        # 3. No engine at all (standby, then the active one killed) while an alarm is
        #    committed: the engine that takes over opens it from the database.
        active = cluster.leader()
        cluster.kill(1 - active)
        cluster.kill(active)
        _alarm(hubs[2].port, key, "lm-alarm-1")
        for i in engines:
            hubs[i].start()
        for i in engines:
            hubs[i].wait_ready(READY_S)
        # 4. The active engine is killed and an alarm committed at once, in the takeover.
        active = cluster.leader()
        killed_at = cluster.kill(active)
        _alarm(hubs[2].port, key, "lm-alarm-2")
        takeovers.append(cluster.took_over(1 - active, killed_at))
        hubs[active].start().wait_ready(READY_S)
        # 5. A running engine, the alarm ingested by a process without the alerts role:
        #    the point rule sees it through the readings channel only.
        _alarm(hubs[2].port, key, "lm-alarm-3")
        publisher.stop()
        publisher.wait()
        assert publisher.messages > 0

        # Every reading exactly once.
        expected = publisher.total * 3
        wait_for(
            lambda: stored_counts(migrated.database_url, publisher.devices)[0] >= expected,
            90,
            f"{expected} readings",
            every=0.5,
        )
        assert missing_sequences(migrated.database_url, publisher.devices, publisher.messages) == {}
        assert stored_counts(migrated.database_url, publisher.devices) == (expected, expected)

        # Within two evaluation intervals of each kill a standby led (from its log).
        assert max(takeovers) <= 2 * INTERVAL_S, takeovers
        # At every moment at most one active engine: the terms in the logs never overlap.
        terms = cluster.terms()
        for (_, end, who), (start, _, next_who) in itertools.pairwise(terms):
            assert start >= end, f"{who} and {next_who} were active at once: {terms}"
        assert len(terms) >= 4, terms

        # Each alarm opened exactly one alert, and its webhook came exactly once.
        def opened() -> dict[str, int]:
            with connect(migrated.database_url, "test") as conn:
                rows = conn.execute(
                    """SELECT d.device_id, count(*) FROM alerts a
                       JOIN devices d ON d.id = a.device WHERE a.rule_id = %s
                       GROUP BY d.device_id""",
                    (rule_id,),
                ).fetchall()
            return {device: n for device, n in rows}

        alarms = {"lm-alarm-1": 1, "lm-alarm-2": 1, "lm-alarm-3": 1}
        wait_for(lambda: len(opened()) == len(alarms), 30, "the alarms' alerts")
        assert opened() == alarms

        def deliveries() -> list[tuple[str, int]]:
            with connect(migrated.database_url, "test") as conn:
                rows = conn.execute(
                    """SELECT d.state, d.attempts FROM alert_deliveries d
                       JOIN alerts a ON a.id = d.alert_id
                       WHERE a.rule_id = %s AND d.notifier LIKE 'webhook %%'""",
                    (rule_id,),
                ).fetchall()
            return [(state, attempts) for state, attempts in rows]

        # Delivered is final: no process sends that row again.
        try:
            wait_for(lambda: deliveries() == [("delivered", 1)] * 3, 30, "the webhooks")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {deliveries()} {receiver.bodies()}") from None
        openings = Counter(
            b["alert"]["device_id"]
            for b in receiver.bodies()
            if b["transition"] == "open" and b["alert"]["rule_id"] == rule_id
        )
        assert openings == alarms, receiver.bodies()
        assert sum(metric_value(hubs[i].port, ACTIVE) for i in engines) == 1
    finally:
        for hub in hubs:
            hub.stop()
        receiver.close()
