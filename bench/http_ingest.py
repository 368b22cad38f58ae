"""HTTP ingest benchmark: The Things Stack webhook uplinks into a hub on this machine.

    python -m bench.http_ingest [--connections 500] [--duration 20] [--devices 500]

Starts a private PostgreSQL and Mosquitto (hub.devstack), migrates, makes an
``ingest`` key and starts ``hub run`` (alert engine off: only the ingest is
measured). Then a load client on raw asyncio streams (HTTP/1.1 keep-alive, one
request at a time per connection, ``--connections`` of them, as a network
server's webhook sends many uplinks at once) posts TTS
``ApplicationUp`` uplinks to ``/api/v1/integrations/ttn`` for ``--duration``
seconds. Each answer comes only after the batch holding the request is
committed, so the rate is of stored uplinks; the bench checks the database holds
one volume reading per 200 answered.

Baseline, same run, same client: ``GET /healthz`` (no body, no database), the
rate the hub's HTTP server itself reaches here. Target: at least 2,000 uplinks/s.
Results go to the terminal and to bench/results/http_ingest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench import probes
from hub.commands.apikeys import create as create_key
from hub.config import load_settings
from hub.devstack import Devstack, free_port
from hub.store.db import connect
from hub.store.migrate import migrate

REPO = Path(__file__).resolve().parent.parent
PROFILES = REPO / "device_profiles"
RESULTS = REPO / "bench" / "results" / "http_ingest.json"
TARGET = 2000.0
SOURCES = "profiles:\n  tts_applications: {town-water: water_meter}\n"


def _uplink(device: int, n: int, start: datetime) -> bytes:
    """An ApplicationUp as TTS's webhook sends it (JSON format)."""
    at = (start + timedelta(seconds=n)).isoformat().replace("+00:00", "Z")
    return orjson.dumps(
        {
            "end_device_ids": {
                "device_id": f"wm-b{device}",
                "application_ids": {"application_id": "town-water"},
                "dev_eui": f"70B3D57ED0C{device:05X}",
                "dev_addr": "260BABCD",
            },
            "correlation_ids": ["as:up:01HX6YGQ7E0V83YRZ7K4S5J4ZN"],
            "received_at": at,
            "uplink_message": {
                "f_port": 100,
                "f_cnt": n,
                "frm_payload": "Aa6smGoAMhcAAAAAAAAAAACAA4AAVAAOQAUQAEgAAkACAAAgAAAAAAAAAAAAAAAAAAA=",
                "decoded_payload": {"current_volume_m3": 6 + n / 1000, "leakage": False},
                "rx_metadata": [
                    {
                        "gateway_ids": {"gateway_id": "eui-aa555a0000000101"},
                        "rssi": -97,
                        "channel_rssi": -97,
                        "snr": 4.5,
                    }
                ],
                "settings": {
                    "data_rate": {"lora": {"bandwidth": 125000, "spreading_factor": 9}},
                    "frequency": "868100000",
                },
                "received_at": at,
            },
        }
    )


def _request(method: str, path: str, key: str, body: bytes = b"") -> bytes:
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: bench\r\nX-API-Key: {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _connection(
    port: int, requests: Any, stop_at: float, counts: dict[int, int], latencies: list[float]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.monotonic() < stop_at:
            request = next(requests)
            sent = time.perf_counter()
            writer.write(request)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await asyncio.wait_for(reader.readexactly(length), 30)
            counts[status] = counts.get(status, 0) + 1
            latencies.append(time.perf_counter() - sent)
    finally:
        writer.close()


async def _load(port: int, requests: Any, connections: int, duration: float) -> dict[str, Any]:
    counts: dict[int, int] = {}
    latencies: list[float] = []
    started = time.monotonic()
    stop_at = started + duration
    await asyncio.gather(
        *(_connection(port, requests, stop_at, counts, latencies) for _ in range(connections))
    )
    elapsed = time.monotonic() - started
    latencies.sort()
    return {
        "responses": counts,
        "seconds": round(elapsed, 2),
        "per_s": round(counts.get(200, 0) / elapsed, 1),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 1) if latencies else None,
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 1) if latencies else None,
    }


def _uplinks(key: str, devices: int, start: datetime) -> Any:
    n = 0
    while True:
        for device in range(devices):
            yield _request("POST", "/api/v1/integrations/ttn", key, _uplink(device, n, start))
        n += 1


def _healthz(key: str) -> Any:
    request = _request("GET", "/healthz", key)
    while True:
        yield request


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=500)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument(
        "--cprofile", type=Path, help="run the hub under cProfile, writing its stats to PATH"
    )
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="hub-bench-http-"))
    root.chmod(0o755)
    stack = Devstack(root, durable=True).start()
    hub: subprocess.Popen[bytes] | None = None
    try:
        url = stack.postgres.create_database("bench_http")
        with connect(url, "bench") as conn:
            level = migrate(conn, storage="auto")
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
        env.update(
            {
                "HUB_DATABASE_URL": url,
                "HUB_MQTT_URL": stack.mosquitto.url,
                "HUB_PROFILES_DIR": str(PROFILES),
                "HUB_SOURCES": SOURCES,
                "HUB_API_PORT": str(port),
                "HUB_LOG_LEVEL": "WARNING",
                "HUB_ALERTS_ENABLED": "false",
                "HUB_MAX_PAST_S": str(40 * 86400),
            }
        )
        key = create_key(
            load_settings(database_url=url), role="ingest", name="bench", out=io.StringIO()
        )
        with open(root / "hub.log", "wb") as log:
            hub = subprocess.Popen(
                [
                    sys.executable,
                    *(["-m", "cProfile", "-o", str(args.cprofile)] if args.cprofile else []),
                    "-m",
                    "hub",
                    "run",
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or hub.poll() is not None:
                print((root / "hub.log").read_text()[-3000:])
                return 1
            time.sleep(0.2)

        start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=30)
        # Warm-up: every device registered, connections and caches made.
        asyncio.run(_load(port, _uplinks(key, args.devices, start - timedelta(days=1)), 50, 3))
        postmaster = stack.postgres.proc.pid if stack.postgres.proc else 0

        def cpu() -> tuple[float, float]:
            pg = sum(probes.cpu_seconds(p) for p in [postmaster, *probes.descendants(postmaster)])
            return probes.cpu_seconds(hub.pid), pg  # type: ignore[union-attr]

        baseline = asyncio.run(_load(port, _healthz(key), args.connections, args.duration / 2))
        before = cpu()
        ingest = asyncio.run(
            _load(port, _uplinks(key, args.devices, start), args.connections, args.duration)
        )
        after = cpu()
        metrics = probes.scrape(port)
        batches = metrics.get("hub_ingest_batch_seconds_count", 0) or 1
        ingest["batches"] = int(batches)
        ingest["mean_batch_messages"] = round(
            metrics.get("hub_ingest_batch_messages_sum", 0) / batches, 1
        )
        ingest["mean_batch_write_ms"] = round(
            1000 * metrics.get("hub_ingest_batch_seconds_sum", 0) / batches, 1
        )
        ingest["hub_cpu_s"] = round(after[0] - before[0], 1)
        ingest["postgres_cpu_s"] = round(after[1] - before[1], 1)
        hub_cpu = after[0] - before[0]
        # Stored uplinks per second of the hub process's own CPU: what one core would
        # take if nothing else ran on it (this machine is shared by PostgreSQL, the
        # load client and whatever else runs).
        ingest["per_hub_cpu_s"] = (
            round(ingest["responses"].get(200, 0) / hub_cpu) if hub_cpu else None
        )
        with connect(url, "bench") as conn:
            row = conn.execute(
                """SELECT count(*) FROM readings r JOIN series s ON s.id = r.series_id
                   WHERE s.metric = 'volume' AND r.time >= %s""",
                (start,),
            ).fetchone()
        stored = int(row[0]) if row else 0
        result = {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "storage": level,
            "connections": args.connections,
            "devices": args.devices,
            "baseline_healthz": baseline,
            "ttn_webhook": ingest,
            "stored_volume_readings": stored,
            "target_per_s": TARGET,
        }
        answered = ingest["responses"].get(200, 0)
        print(f"baseline GET /healthz:      {baseline['per_s']:>8.1f} req/s")
        print(
            f"TTS webhook uplinks stored: {ingest['per_s']:>8.1f} req/s "
            f"(p50 {ingest['p50_ms']} ms, p99 {ingest['p99_ms']} ms), "
            f"{ingest['per_s'] / baseline['per_s']:.0%} of the baseline"
        )
        print(
            f"answered 200: {answered}, volume readings stored: {stored}, other: {ingest['responses']}"
        )
        met = ingest["per_s"] >= TARGET and stored == answered
        print(
            f"per second of the hub's own CPU: {ingest['per_hub_cpu_s']} uplinks; "
            f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )
        result["load_average_1m"] = round(os.getloadavg()[0], 1)
        print(f"target {TARGET:.0f}/s: {'met' if met else 'NOT met'}")
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
        return 0 if met else 1
    finally:
        if hub is not None and hub.poll() is None:
            hub.terminate()
            hub.wait(20)
        stack.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
