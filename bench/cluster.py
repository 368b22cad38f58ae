"""What passing readings between hub processes costs, per message, in one run.

- ingest side: the batch transaction with and without the NOTIFY of its readings
  (HUB_READINGS_NOTIFY), batches alternating, on a private durable PostgreSQL;
- engine side: receiving the notifications on a LISTEN connection, decoding them
  and publishing the readings on the event bus (what an alert engine in another
  process than the ingest does per message, instead of taking them in-process).

    python -m bench.cluster [--batches 20] [--batch 5000] [--readings 3]

With ``--drain``: the drain of ``bench.ingest`` with 1, 2 and 3 hub processes on
one shared subscription (``--workers``, each with every role and the readings
channel on, one alert engine active), and one process without the channel as the
baseline, the configurations alternating round after round in this one run:

    python -m bench.cluster --drain [--rounds 2] [--drain-messages 300000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console

from hub.cluster import wire
from hub.devstack import Postgres
from hub.events import EventBus
from hub.model import Item, Reading
from hub.store import cluster
from hub.store import ingest_sql as q
from hub.store.batch import write_batch
from hub.store.db import aconnect, connect
from hub.store.ingest_devices import DeviceCache
from hub.store.migrate import migrate

RESULTS = Path(__file__).parent / "results"
METRICS = ("pm10", "pm2_5", "no2", "o3", "temperature")
console = Console()


def _batch(n: int, size: int, readings: int, devices: int) -> list[Item]:
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=n * size)
    items = []
    for i in range(size):
        at = start + timedelta(seconds=i)
        device = f"aq-{i % devices:04d}"
        items.append(
            Item(
                topic=f"city/air_quality/{device}/telemetry",
                payload=b"{}",
                received_at=at,
                device_id=device,
                profile="air_quality",
                readings=[Reading(device, m, at, float(i)) for m in METRICS[:readings]],
            )
        )
    return items


async def run(url: str, args: argparse.Namespace) -> dict[str, float]:
    cache = DeviceCache(auto_register=True)
    writer = await aconnect(url, "bench", autocommit=True)
    listener = await aconnect(url, "bench-listen", autocommit=True)
    await writer.execute(q.CREATE_STAGING)
    await listener.execute(cluster.LISTEN_READINGS)
    bus = EventBus()
    subscription = bus.subscribe(maxsize=10_000_000, name="bench")
    spent = {False: 0.0, True: 0.0}
    messages = {False: 0, True: 0}
    await write_batch(
        writer,
        cache,
        _batch(0, 100, args.readings, args.devices),
        [],
        storage=args.storage,
        keep_refused=True,
    )
    for n in range(1, 2 * args.batches + 1):
        notify = n % 2 == 0
        items = _batch(n, args.batch, args.readings, args.devices)
        started = time.perf_counter()
        await write_batch(
            writer, cache, items, [], storage=args.storage, keep_refused=True, notify=notify
        )
        spent[notify] += time.perf_counter() - started
        messages[notify] += len(items)
    # The listener side: every payload the notifying batches sent, decoded and published.
    expected = messages[True] * args.readings
    started = time.perf_counter()
    received = 0
    while received < expected and time.perf_counter() - started < 120:
        async for note in listener.notifies(timeout=5.0):
            for event in wire.decode(note.payload, datetime.now(UTC)):
                bus.publish(event)
                received += 1
            if received >= expected:
                break
    receive_s = time.perf_counter() - started
    await writer.close()
    await listener.close()
    assert received == expected, (received, expected)
    assert subscription.overflowed is False
    return {
        "batch_us_per_message_without_notify": 1e6 * spent[False] / messages[False],
        "batch_us_per_message_with_notify": 1e6 * spent[True] / messages[True],
        "listener_us_per_message": 1e6 * receive_s / messages[True],
        "messages_per_side": messages[True],
    }


# (label, hub processes, readings channel)
DRAIN_RUNS = (
    ("1 process", 1, False),
    ("1 process, channel", 1, True),
    ("2 processes", 2, True),
    ("3 processes", 3, True),
)


def _run_alone(argv: list[str]) -> subprocess.CompletedProcess[bytes]:
    """Run a benchmark in its own process group and end whatever it left behind
    (a run that fails may leave its hub processes running)."""
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    _, err = proc.communicate()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    return subprocess.CompletedProcess(argv, proc.returncode, b"", err)


def drain(args: argparse.Namespace) -> dict[str, object]:
    """Each configuration of DRAIN_RUNS per round, through ``bench.ingest``."""
    runs: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="hub-bench-drain-") as tmp:
        for round_ in range(1, args.rounds + 1):
            for label, workers, notify in DRAIN_RUNS:
                out = Path(tmp) / f"{round_}-{workers}-{notify}.json"
                argv = [sys.executable, "-m", "bench.ingest", "--mode", "drain", "--skip-raw"]
                argv += ["--workers", str(workers), "--drain-messages", str(args.drain_messages)]
                argv += ["--output", str(out)] + (["--notify"] if notify else [])
                load_before = os.getloadavg()[0]
                done = _run_alone(argv)
                load = round((load_before + os.getloadavg()[0]) / 2, 1)
                run: dict[str, object] = {"round": round_, "run": label, "load": load}
                if done.returncode != 0:  # reported, not hidden: the other runs go on
                    run["failed"] = done.stderr.decode(errors="replace").strip()[-300:]
                else:
                    got = json.loads(out.read_text())
                    run.update(
                        msgs_per_s=got["drain_msgs_per_s"],
                        lost=got["drain_lost"],
                        duplicated=got["drain_duplicated"],
                    )
                console.print(run)
                runs.append(run)
    return {"drain_messages": args.drain_messages, "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__)
    parser.add_argument("--drain", action="store_true", help="the drain with 1, 2, 3 processes")
    parser.add_argument("--rounds", type=int, default=2, help="--drain: rounds (2)")
    parser.add_argument("--drain-messages", type=int, default=300_000, help="--drain: backlog")
    parser.add_argument("--batches", type=int, default=20, help="batches of each kind (20)")
    parser.add_argument("--batch", type=int, default=5000, help="messages per batch (5000)")
    parser.add_argument("--readings", type=int, default=3, choices=range(1, 6))
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--output", type=Path, default=RESULTS / "cluster.json")
    args = parser.parse_args()
    if args.drain:
        output = args.output.with_name("cluster_drain.json")
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(drain(args), indent=2) + "\n")
        return
    root = Path(tempfile.mkdtemp(prefix="hub-bench-cluster-"))
    root.chmod(0o755)
    pg = Postgres(root / "pg").start()
    try:
        url = pg.create_database("bench")
        with connect(url, "bench") as conn:
            args.storage = migrate(conn, storage="auto")
        result = asyncio.run(run(url, args))
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)
    result = {k: round(v, 1) for k, v in result.items()}
    result.update(storage=args.storage, cores=os.cpu_count() or 0, load=os.getloadavg()[0])
    for key, value in result.items():
        console.print(f"{key}: {value}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
