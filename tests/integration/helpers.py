"""Helpers for integration tests: a hub process, a sequence-numbered publisher, and
queries that tell what reached the database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import orjson

from bench.publisher import Qos1Publisher
from hub.config import Settings, mqtt_endpoint
from hub.devstack import free_port
from hub.store.db import connect

BASE_TS_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


def hub_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        {
            "HUB_DATABASE_URL": settings.database_url,
            "HUB_MQTT_URL": settings.mqtt_url,
            "HUB_TOPIC_PREFIX": settings.topic_prefix,
            "HUB_MQTT_CLIENT_ID": settings.mqtt_client_id,
            "HUB_PROFILES_DIR": str(settings.profiles_dir),
            "HUB_BATCH_MAX_DELAY_MS": str(settings.batch_max_delay_ms),
            "HUB_BATCH_MAX_MESSAGES": str(settings.batch_max_messages),
            "HUB_MQTT_RECEIVE_MAXIMUM": str(settings.mqtt_receive_maximum),
            "HUB_MQTT_RECONNECT_MAX_S": "2",
            "HUB_AUTO_REGISTER_DEVICES": str(settings.auto_register_devices).lower(),
            "HUB_API_PORT": str(free_port()),
            "HUB_LOG_LEVEL": "INFO",
        }
    )
    env.update(extra)
    return env


class HubProcess:
    """``python -m hub run`` as a child process, to be killed and restarted."""

    def __init__(self, settings: Settings, log_dir: Path, **env: str) -> None:
        self.env = hub_env(settings, **env)
        self.port = int(self.env["HUB_API_PORT"])
        self.log_dir = log_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> HubProcess:
        self.starts += 1
        with open(self.log_dir / f"hub-{self.port}-{self.starts}.log", "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "hub", "run"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def wait_ready(self, timeout: float = 90) -> None:
        import httpx

        def ready() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"hub exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                return (
                    httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=1).status_code == 200
                )
            except httpx.HTTPError:
                return False

        try:
            wait_for(ready, timeout, "the hub to be ready")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; its log:\n{self.log_tail()}") from None

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def rss_mb(self) -> float:
        assert self.proc is not None
        return rss_mb(self.proc.pid)

    def log_tail(self) -> str:
        logs = sorted(self.log_dir.glob(f"hub-{self.port}-*.log"))
        return logs[-1].read_text(errors="replace")[-3000:] if logs else ""


def telemetry(seq: int, ts_ms: int | None = None) -> bytes:
    """A load_meter message: three readings, all derived from the sequence number."""
    return orjson.dumps(
        {
            "ts": ts_ms if ts_ms is not None else BASE_TS_MS + seq * 1000,
            "seq": seq,
            "a": seq / 10,
            "b": -seq,
        }
    )


class SeqPublisher:
    """Publishes sequence-numbered QoS 1 messages for several devices from a thread.

    It publishes through bench.publisher (its own loop, see MEASURED.md), keeps a
    persistent MQTT 3.1.1 session, and retries until the broker has acknowledged
    every message, across broker restarts.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        devices: int,
        messages: int,
        rate: float,
        client_id: str = "test-publisher",
    ) -> None:
        self.host, self.port, _, _, _ = mqtt_endpoint(settings.mqtt_url)
        self.prefix = settings.topic_prefix
        self.devices = [f"lm-{i:03d}" for i in range(devices)]
        self.messages = messages
        self.rate = rate
        self._pub = Qos1Publisher(client_id, persistent=True, max_inflight=100)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._done = threading.Event()
        self._stop = threading.Event()
        self.error: BaseException | None = None

    @property
    def total(self) -> int:
        return len(self.devices) * self.messages

    @property
    def published(self) -> int:
        return self._pub.published

    @property
    def acked(self) -> int:
        return self._pub.acked

    def topic(self, device: str) -> str:
        return f"{self.prefix}/load_meter/{device}/telemetry"

    def start(self) -> SeqPublisher:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self._pub.connect(self.host, self.port, keepalive=10)
            started = time.monotonic()
            for seq in range(self.messages):
                if self._stop.is_set():
                    self.messages = seq  # whole rounds only: every device has 0..seq-1
                    break
                for device in self.devices:
                    self._pub.publish(self.topic(device), telemetry(seq))
                self._pub.pace(started + self._pub.published / self.rate, max_unacked=2000)
            self._pub.wait_acked(120)
        except BaseException as exc:  # surfaced by wait()
            self.error = exc
        finally:
            self._pub.close()
            self._done.set()

    def stop(self) -> None:
        """End the stream after the current round (``messages`` becomes the rounds sent)."""
        self._stop.set()

    def wait(self, timeout: float = 180) -> None:
        assert self._done.wait(timeout), "publisher did not finish"
        if self.error:
            raise self.error
        assert self.acked == self.total, f"broker acknowledged {self.acked} of {self.total}"


def stored_counts(url: str, prefix_devices: list[str]) -> tuple[int, int]:
    """(readings stored for these devices, distinct (device, metric, time) among them)."""
    with connect(url, "test") as conn:
        row = conn.execute(
            """SELECT count(*), count(DISTINCT (s.device, s.metric, r.time))
               FROM readings r JOIN series s ON s.id = r.series_id
               JOIN devices d ON d.id = s.device
               WHERE d.device_id = ANY(%s)""",
            (prefix_devices,),
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def missing_sequences(url: str, devices: list[str], messages: int) -> dict[str, list[int]]:
    """Per device, the sequence numbers whose 'seq' reading is not stored."""
    with connect(url, "test") as conn:
        rows = conn.execute(
            """SELECT d.device_id, r.value::bigint
               FROM readings r JOIN series s ON s.id = r.series_id
               JOIN devices d ON d.id = s.device
               WHERE s.metric = 'seq' AND d.device_id = ANY(%s)""",
            (devices,),
        ).fetchall()
    seen: dict[str, set[int]] = {d: set() for d in devices}
    for device_id, value in rows:
        seen[device_id].add(value)
    return {d: sorted(set(range(messages)) - s)[:20] for d, s in seen.items() if len(s) != messages}


def metric_value(port: int, name: str) -> float:
    """The value of one sample on a hub's /metrics page (0 when absent)."""
    import httpx

    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    for line in text.splitlines():
        key, _, value = line.rpartition(" ")
        if key == name:
            return float(value)
    return 0.0


def engine_marks(log: Path) -> list[tuple[float, str]]:
    """(wall time, "active" | "stepped down") of the alert engine in a hub's JSON log
    (HUB_LOG_FORMAT=json): "active" is logged once the lock is held, "stepped down"
    once the engine has stopped and before the lock is let go."""
    marks = []
    for line in log.read_text(errors="replace").splitlines():
        if not line.startswith("{"):
            continue
        entry = orjson.loads(line)
        if entry.get("logger") != "hub.alerts.leader":
            continue
        for mark in ("active", "stepped down"):
            if entry["message"].startswith(f"alert engine {mark}"):
                marks.append((datetime.fromisoformat(entry["time"]).timestamp(), mark))
    return marks
