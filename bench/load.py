"""Load generation for the ingest benchmark: street-light messages at QoS 1.

Each publisher is a separate process publishing through bench.publisher (its own
loop, retried when paho's queue is full, every publish counted until its PUBACK),
and it reports how many messages the broker acknowledged: a benchmark that loses
messages on the way in proves nothing.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from dataclasses import dataclass

import orjson

from bench.publisher import Qos1Publisher

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
    pub = Qos1Publisher(client_id)
    pub.connect(spec.host, spec.port)
    started = time.monotonic()
    try:
        for seq in range(spec.messages_per_device):
            for device in spec.devices:
                ts = spec.base_ts + seq * 0.001 if spec.base_ts is not None else time.time()
                pub.publish(topic(spec.prefix, device), payload(seq, ts, spec.readings))
                if spec.rate:
                    pub.pace(started + pub.published / spec.rate)
        pub.wait_acked(300)
        return LoadResult(pub.published, pub.acked, time.monotonic() - started)
    finally:
        pub.close()


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
