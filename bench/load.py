"""Load generation for the ingest benchmark: street-light messages at QoS 1.

Each publisher is a separate process driving paho's loop itself (MEASURED.md: the
threaded loop stalls), waiting and retrying when its queue is full, and it
reports how many messages the broker acknowledged: a benchmark that loses
messages on the way in proves nothing.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from dataclasses import dataclass

import orjson
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion

PROFILE = "street_light"
# Metrics of the street_light profile in the order a message carries them.
METRICS = ("power", "energy", "dim_level", "voltage", "lamp_on")


@dataclass(frozen=True)
class LoadSpec:
    host: str
    port: int
    prefix: str
    devices: list[str]
    messages_per_device: int
    rate: float  # messages per second for this publisher; 0 = as fast as possible
    readings: int  # readings per message, 1..5
    base_ts: float | None  # None: stamp each message with its publish time (latency)


@dataclass(frozen=True)
class LoadResult:
    published: int
    acked: int
    seconds: float


def topic(prefix: str, device: str) -> str:
    return f"{prefix}/{PROFILE}/{device}/telemetry"


def payload(seq: int, ts: float, readings: int) -> bytes:
    values: dict[str, object] = {"ts": round(ts, 6)}
    sample = (40.0 + seq % 50, 1000.0 + seq * 0.01, seq % 101, 230.0, True)
    for name, value in zip(METRICS[:readings], sample, strict=False):
        values[name] = value
    return orjson.dumps(values)


def publish(spec: LoadSpec, client_id: str) -> LoadResult:
    """Publish ``messages_per_device`` messages for every device; wait for all acks."""
    acked = 0

    def on_publish(*_: object) -> None:
        nonlocal acked
        acked += 1

    client = paho.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv311
    )
    client.on_publish = on_publish
    client.max_inflight_messages_set(1000)
    client.connect(spec.host, spec.port, keepalive=60)
    started = time.monotonic()
    published = 0
    for seq in range(spec.messages_per_device):
        for device in spec.devices:
            ts = spec.base_ts + seq * 0.001 if spec.base_ts is not None else time.time()
            while True:
                info = client.publish(
                    topic(spec.prefix, device), payload(seq, ts, spec.readings), qos=1
                )
                if info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
                    break
                client.loop(0.01)  # queue full: let acks come in, then retry
            published += 1
            if published % 200 == 0:
                client.loop(0)
            if spec.rate:
                while time.monotonic() < started + published / spec.rate:
                    client.loop(0.001)
    deadline = time.monotonic() + 300
    while acked < published and time.monotonic() < deadline:
        client.loop(0.01)
    seconds = time.monotonic() - started
    client.disconnect()
    return LoadResult(published, acked, seconds)


def _worker(spec: LoadSpec, client_id: str, out: mp.Queue) -> None:  # type: ignore[type-arg]
    out.put(publish(spec, client_id))


def start_publishers(specs: list[LoadSpec], name: str) -> tuple[list[mp.Process], mp.Queue]:  # type: ignore[type-arg]
    out: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    procs = [
        mp.Process(target=_worker, args=(spec, f"{name}-{n}", out), daemon=True)
        for n, spec in enumerate(specs)
    ]
    for proc in procs:
        proc.start()
    return procs, out


def collect(procs: list[mp.Process], out: mp.Queue) -> list[LoadResult]:  # type: ignore[type-arg]
    results = [out.get(timeout=900) for _ in procs]
    for proc in procs:
        proc.join(10)
    return results


def split(devices: list[str], parts: int) -> list[list[str]]:
    return [devices[n::parts] for n in range(parts) if devices[n::parts]]
