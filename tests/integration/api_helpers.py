"""A real hub (``python -m hub run``) over a migrated database with API keys of each
role, for the API tests; data goes in through MQTT and the real ingest."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import io
import itertools
import os
import queue
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import paho.mqtt.publish as publish

from hub.commands.apikeys import create as create_key
from hub.config import Settings, load_settings, mqtt_endpoint
from hub.devstack import Devstack
from hub.model import Alert
from hub.store import alerts as alert_store
from hub.store.db import aconnect, connect
from hub.store.migrate import migrate
from tests.integration.helpers import HubProcess, wait_for

TEST_PROFILES = Path(__file__).parent / "profiles"
SHIPPED_PROFILES = Path(__file__).parents[2] / "device_profiles"
ROLES = ("viewer", "operator", "admin")
_counter = itertools.count()


@dataclass
class ApiHub:
    settings: Settings
    process: HubProcess
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.process.port}"

    def client(self, role: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[role]}"} if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=15)

    def publish(self, messages: Iterable[tuple[str, bytes]], retain: bool = False) -> None:
        host, port, _, _, _ = mqtt_endpoint(self.settings.mqtt_url)
        batch = [{"topic": t, "payload": p, "qos": 1, "retain": retain} for t, p in messages]
        for i in range(0, len(batch), 500):
            publish.multiple(batch[i : i + 500], hostname=host, port=port)

    def topic(self, device_id: str, profile: str = "load_meter", kind: str = "telemetry") -> str:
        return f"{self.settings.topic_prefix}/{profile}/{device_id}/{kind}"

    def readings_stored(self, device_id: str) -> int:
        with connect(self.settings.database_url, "test") as conn:
            row = conn.execute(
                """SELECT count(*) FROM readings r JOIN series s ON s.id = r.series_id
                   JOIN devices d ON d.id = s.device WHERE d.device_id = %s""",
                (device_id,),
            ).fetchone()
        return int(row[0]) if row else 0

    def wait_stored(self, device_id: str, count: int, timeout: float = 60) -> None:
        wait_for(
            lambda: self.readings_stored(device_id) >= count,
            timeout,
            f"{count} readings of {device_id}",
        )

    def stop(self) -> None:
        self.process.stop()


def new_settings(stack: Devstack, **overrides: object) -> Settings:
    n = next(_counter)
    url = stack.postgres.create_database(f"api_{os.getpid()}_{n}")
    values: dict[str, object] = {
        "database_url": url,
        "mqtt_url": stack.mosquitto.url,
        "topic_prefix": f"api{os.getpid()}x{n}",
        "mqtt_client_id": f"hub-api-test-{os.getpid()}-{n}",
        "profiles_dir": TEST_PROFILES,
        "batch_max_delay_ms": 50,
    }
    values.update(overrides)
    return load_settings(**values)


def start_hub(
    stack: Devstack,
    log_dir: Path,
    *,
    storage: str = "plain",
    profiles_dir: Path = TEST_PROFILES,
    **env: str,
) -> ApiHub:
    """Migrate a fresh database at ``storage``, make a key per role (and ``personal``:
    an operator's with the personal permission), start the hub."""
    settings = new_settings(stack, profiles_dir=profiles_dir)
    with connect(settings.database_url, "test") as conn:
        assert migrate(conn, storage=storage) == storage
    keys = {
        role: create_key(settings, role=role, name=f"test {role}", out=io.StringIO())
        for role in ROLES
    }  # type: ignore[arg-type]
    # An operator key that may also read personal data (docs/privacy.md).
    keys["personal"] = create_key(
        settings,
        role="operator",
        name="test personal",
        permissions=("personal",),
        out=io.StringIO(),
    )
    process = HubProcess(settings, log_dir, **env).start()
    try:
        process.wait_ready()
    except BaseException:
        process.stop()  # not left running behind a failed test
        raise
    return ApiHub(settings, process, keys)


class Listener:
    """Reads an event stream in a thread: SSE blocks become (event, data) items.

    Plain http.client, so that leaving the block can shut the socket and end the
    read at once (the hub then has no stream left open when it is stopped)."""

    def __init__(self, hub: ApiHub, **params: object) -> None:
        self.items: queue.Queue[tuple[str, object]] = queue.Queue()
        self._conn = http.client.HTTPConnection("127.0.0.1", hub.process.port, timeout=60)
        query = urllib.parse.urlencode(params, doseq=True)
        self._path = f"/api/v1/stream?{query}"
        self._headers = {"Authorization": f"Bearer {hub.keys['viewer']}"}
        self._open = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Listener:
        self._thread.start()
        assert self._open.wait(10), "stream did not open"
        return self

    def __exit__(self, *exc: object) -> None:
        if self._conn.sock is not None:
            with contextlib.suppress(OSError):
                self._conn.sock.shutdown(socket.SHUT_RDWR)
        self._conn.close()
        self._thread.join(5)

    def _run(self) -> None:
        try:
            self._conn.request("GET", self._path, headers=self._headers)
            response = self._conn.getresponse()
            assert response.status == 200
            assert response.getheader("content-type", "").startswith("text/event-stream")
            self._open.set()
            event = "message"
            while line := response.readline():
                text = line.decode().rstrip("\r\n")
                if text.startswith(":"):
                    self.items.put(("comment", text[1:].strip()))
                elif text.startswith("event: "):
                    event = text[7:]
                elif text.startswith("data: "):
                    self.items.put((event, orjson.loads(text[6:])))
                    event = "message"
        except Exception:  # hung up by __exit__ (or never opened: __enter__ says so)
            if self._open.is_set():
                return
            raise

    def take(self, kind: str, count: int, timeout: float = 20) -> list[object]:
        found: list[object] = []
        deadline = time.monotonic() + timeout
        while len(found) < count:
            try:
                event, data = self.items.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"got {len(found)} of {count} {kind} events") from None
            if event == kind:
                found.append(data)
        return found


def open_alert(
    url: str,
    rule_id: int,
    device_id: str,
    *,
    severity: str,
    message: str,
    value: float,
    details: dict[str, Any],
) -> Alert:
    """An alert opened as the engine opens it (hub.store.alerts.open_alert). In a
    thread of its own: it also works beside a running event loop (Playwright's)."""

    async def run() -> Alert:
        async with await aconnect(url, "test", autocommit=True) as conn:
            cur = await conn.execute("SELECT id FROM devices WHERE device_id = %s", (device_id,))
            row = await cur.fetchone()
            assert row is not None
            alert = await alert_store.open_alert(
                conn,
                rule_id=rule_id,
                device=row[0],
                severity=severity,
                message=message,
                value=value,
                details=details,
            )
            assert alert is not None
            return alert

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()
