"""Faults on the HTTP ingest against a real hub, PostgreSQL and Mosquitto: a TTS
webhook sender that retries every unanswered request, while the hub is SIGKILLed
or the database is down. Every uplink ends up stored exactly once."""

from __future__ import annotations

import io
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest

from hub.commands.apikeys import create as create_key
from hub.config import Settings
from hub.devstack import Devstack
from hub.store.db import connect
from tests.integration.api_helpers import SHIPPED_PROFILES
from tests.integration.helpers import HubProcess, wait_for
from tests.lorawan_messages import tts_uplink

SOURCES = "profiles:\n  tts_applications: {town-water: water_meter}\n"
START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


@dataclass
class Sender:
    """A webhook sender as a network server should be: every request is sent again
    until it is answered 2xx (honouring Retry-After, capped for the test)."""

    url: str
    key: str
    uplinks: list[bytes]
    threads: int = 4
    deadline_s: float = 240
    statuses: Counter[int] = field(default_factory=Counter)
    retry_after: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)

    def start(self) -> Sender:
        self._next = 0
        self._lock = threading.Lock()
        self._workers = [
            threading.Thread(target=self._run, daemon=True) for _ in range(self.threads)
        ]
        for worker in self._workers:
            worker.start()
        return self

    def _take(self) -> bytes | None:
        with self._lock:
            if self._next >= len(self.uplinks):
                return None
            self._next += 1
            return self.uplinks[self._next - 1]

    def _run(self) -> None:
        stop_at = time.monotonic() + self.deadline_s
        with httpx.Client(timeout=15, headers={"X-API-Key": self.key}) as client:
            while (body := self._take()) is not None:
                while time.monotonic() < stop_at:
                    try:
                        r = client.post(self.url, content=body)
                    except httpx.HTTPError:
                        time.sleep(0.2)  # the hub is away: send it again
                        continue
                    with self._lock:
                        self.statuses[r.status_code] += 1
                    if r.status_code == 200:
                        break
                    if r.status_code == 503:
                        self.retry_after.append(r.headers.get("Retry-After", ""))
                        time.sleep(min(float(r.headers.get("Retry-After", "1")), 0.5))
                        continue
                    self.failures.append(f"{r.status_code}: {r.text[:200]}")
                    break
                else:
                    self.failures.append("gave up: deadline")

    def wait(self, timeout: float = 300) -> None:
        for worker in self._workers:
            worker.join(timeout)
        assert not any(w.is_alive() for w in self._workers), "the sender did not finish"


def _uplinks(devices: int, each: int) -> list[bytes]:
    out = []
    for n in range(each):
        for d in range(devices):
            out.append(
                orjson.dumps(
                    tts_uplink(
                        device_id=f"wm-k{d}",
                        dev_eui=f"70B3D57ED00B{d:04X}",
                        application_id="town-water",
                        received_at=START + timedelta(seconds=30 * n),
                        f_cnt=n,
                        decoded={"current_volume_m3": 10 + n / 1000},
                    )
                )
            )
    return out


def _stored(settings: Settings) -> dict[str, int]:
    with connect(settings.database_url, "test") as conn:
        rows = conn.execute(
            """SELECT d.device_id, count(*) FROM readings r JOIN series s ON s.id = r.series_id
               JOIN devices d ON d.id = s.device WHERE s.metric = 'volume' GROUP BY 1"""
        ).fetchall()
    return {d: n for d, n in rows}


@pytest.fixture
def hub(migrated: Settings, tmp_path: Path) -> Iterator[tuple[HubProcess, str]]:
    key = create_key(migrated, role="ingest", name="ttn", out=io.StringIO())
    process = HubProcess(
        migrated,
        tmp_path,
        HUB_PROFILES_DIR=str(SHIPPED_PROFILES),
        HUB_SOURCES=SOURCES,
        HUB_INGEST_HTTP_WAIT_S="3",
        HUB_INGEST_RETRY_AFTER_S="1",
    ).start()
    process.wait_ready()
    yield process, key
    process.stop()


def test_hub_sigkilled_while_the_webhook_sender_retries_stores_every_uplink_once(
    migrated: Settings, hub: tuple[HubProcess, str]
) -> None:
    process, key = hub
    devices, each = 5, 80
    sender = Sender(
        f"http://127.0.0.1:{process.port}/api/v1/integrations/ttn", key, _uplinks(devices, each)
    ).start()
    for _ in range(2):
        wait_for(lambda: sum(sender.statuses.values()) > 60, 60, "the sender under way")
        process.kill()
        time.sleep(0.5)
        process.start()
        process.wait_ready()
        sender.statuses.clear()
    sender.wait()
    assert sender.failures == []
    assert _stored(migrated) == {f"wm-k{d}": each for d in range(devices)}
    with connect(migrated.database_url, "test") as conn:
        missed = conn.execute(
            """SELECT coalesce(sum(r.value), 0) FROM readings r JOIN series s ON s.id = r.series_id
               WHERE s.metric = 'lora_missed_frames'"""
        ).fetchone()
    assert missed is not None and missed[0] == 0  # every frame arrived, none was counted lost


def test_database_down_answers_503_with_retry_after_flat_memory_and_stores_all_after(
    migrated: Settings, stack: Devstack, hub: tuple[HubProcess, str]
) -> None:
    process, key = hub
    devices, each = 4, 60
    sender = Sender(
        f"http://127.0.0.1:{process.port}/api/v1/integrations/ttn",
        key,
        _uplinks(devices, each),
        threads=3,
    ).start()
    wait_for(lambda: sender.statuses[200] > 20, 60, "uplinks stored before the fault")
    stack.postgres.stop()
    try:
        samples: list[float] = []
        down_since = time.monotonic()
        while time.monotonic() - down_since < 20:
            samples.append(process.rss_mb())
            time.sleep(1)
        assert sender.statuses[503] > 10, sender.statuses
        with httpx.Client(timeout=10, headers={"X-API-Key": key}) as client:
            r = client.post(
                f"http://127.0.0.1:{process.port}/api/v1/integrations/ttn",
                content=_uplinks(1, 1)[0],
            )
        assert r.status_code == 503
        assert r.headers["Retry-After"] == "1"
        assert r.headers["content-type"] == "application/problem+json"
    finally:
        stack.postgres.start()
    later = samples[5:]
    assert max(later) - min(later) < 15, f"RSS while the database was down: {samples}"
    assert process.proc is not None and process.proc.poll() is None, "the hub died"
    sender.wait()
    assert sender.failures == []
    assert set(sender.retry_after) == {"1"}
    assert _stored(migrated) == {f"wm-k{d}": each for d in range(devices)}
