"""Ingest benchmark: Mosquitto + PostgreSQL + hub on this machine, ack after commit.

    python -m bench.ingest [--drain-messages 2000000] [--rate 5000] [--duration 30] ...

Two modes (both by default), each with its own devices so their counts are checked
separately:

- drain: the whole load is published to the hub's persistent session while the
  hub is stopped; then the hub starts and the time to commit the backlog is
  measured (``drain_msgs_per_s``). The load generator does not compete for CPU.
- steady: publishers send at a fixed rate (``--rate``) for ``--duration`` seconds
  while the hub runs; each message carries its publish time, so the hub's
  reading-age histogram gives publish-to-committed latency (p50/p99).

In the same run (drain mode) it measures two baselines: the broker alone (a plain
QoS 1 subscriber, mosquitto_sub, subscribed before the backlog is published, so
the same Mosquitto queues the same backlog for it, drained before the hub starts)
and COPY alone (psql \\copy of the drain's own readings, in binary, into an empty
table like readings), and prints the combined limit 1 / (1/broker +
readings per message / COPY) and the hub's drain as a share of it. Results go to
the terminal and to bench/results/ingest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bench import load, probes
from hub.devstack import Devstack, free_port
from hub.store import bulk
from hub.store.db import connect
from hub.store.migrate import migrate, storage_level

RESULTS = Path(__file__).parent / "results"
CpuGroups = dict[str, Callable[[], list[int]]]
MIN_SUSTAINED_S = 30.0  # a rate counts when held at least this long
PROFILES = Path(__file__).resolve().parent.parent / "device_profiles"
console = Console()


class Hub:
    """``hub run`` processes (several on a shared subscription with --workers)."""

    def __init__(
        self,
        env: dict[str, str],
        workers: int,
        logdir: Path,
        profile: Path | None = None,
        tree: Path | None = None,
    ) -> None:
        self.profile = profile
        self.tree = tree  # another checkout whose hub runs (before/after comparisons)
        self.workers = workers
        self.logdir = logdir
        self.ports = [free_port() for _ in range(workers)]
        self.env = env
        self.procs: list[subprocess.Popen[bytes]] = []
        self.spies: list[subprocess.Popen[bytes]] = []
        self.starts = 0

    def start(self) -> None:
        for n, port in enumerate(self.ports):
            env = {**self.env, "HUB_API_PORT": str(port), "HUB_MQTT_CLIENT_ID": f"bench-hub-{n}"}
            if self.workers > 1:
                env["HUB_MQTT_SHARE_GROUP"] = "bench"
            with open(self.logdir / f"hub-{n}.log", "ab") as log:
                self.procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "hub", "run"],
                        env=env,
                        cwd=self.tree,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
            if self.profile is not None:  # py-spy attached, collapsed stacks per start
                out = self.profile.with_suffix(f".{n}.{self.starts}.txt")
                self.spies.append(
                    subprocess.Popen(
                        [
                            shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy"),
                            "record",
                            "--pid",
                            str(self.procs[-1].pid),
                            "--format",
                            "raw",
                            "-r",
                            "250",
                            "--nonblocking",
                            "-o",
                            str(out),
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
        self.starts += 1
        deadline = time.monotonic() + 60
        for port in self.ports:
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    logs = "\n".join(p.read_text()[-1500:] for p in self.logdir.glob("hub-*.log"))
                    raise RuntimeError(f"hub did not become ready:\n{logs}")
                time.sleep(0.1)

    def stop(self) -> None:
        for spy in self.spies:
            spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
            spy.wait(60)
        self.spies = []
        for proc in self.procs:
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            proc.wait(30)
        self.procs = []

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def scrape(self) -> dict[str, float]:
        total: dict[str, float] = {}
        for port in self.ports:
            for key, value in probes.scrape(port).items():
                total[key] = total.get(key, 0.0) + value
        return total

    def readings(self) -> float:
        return self.scrape().get("hub_ingest_readings_total", 0.0)

    def rss(self) -> float:
        return sum(probes.rss_mb(pid) for pid in self.pids)


def stored(url: str, prefix: str) -> tuple[int, int]:
    """(readings, distinct (series, time)) of the devices whose id starts with prefix."""
    with connect(url, "bench") as conn:
        return bulk.stored_by_prefix(conn, prefix)


def specs(
    args: argparse.Namespace,
    broker_port: int,
    devices: list[str],
    per_device: int,
    rate: float,
    base_ts: float | None,
    prefix: str,
) -> list[load.LoadSpec]:
    groups = load.split(devices, args.publishers)
    return [
        load.LoadSpec(
            "127.0.0.1",
            broker_port,
            prefix,
            group,
            per_device,
            rate / len(groups) if rate else 0,
            args.readings,
            base_ts,
        )
        for group in groups
    ]


def batch_stats(samples: dict[str, float]) -> dict[str, float]:
    """Mean batch size, mean time to write and commit one batch, alert engine overflows."""
    count = samples.get("hub_ingest_batch_messages_count", 0.0)
    if not count:
        return {}
    return {
        "batches": count,
        "mean_messages": round(samples["hub_ingest_batch_messages_sum"] / count, 1),
        "mean_write_ms": round(samples["hub_ingest_batch_seconds_sum"] / count * 1000, 1),
        # Times the alert engine fell behind and re-read readings from the database.
        "alert_overflows": samples.get("hub_alert_point_overflows_total", 0.0),
        # With --sta-mqtt: Observations the SensorThings feed published and dropped.
        "sta_published": samples.get('hub_sta_mqtt_observations_total{outcome="published"}', 0.0),
        "sta_dropped": samples.get('hub_sta_mqtt_observations_total{outcome="dropped"}', 0.0),
    }


def run_drain(
    args: argparse.Namespace, stack: Devstack, hub: Hub, url: str, cpu_groups: CpuGroups
) -> dict[str, Any]:
    devices = [f"d-{n:05d}" for n in range(args.devices)]
    per_device = max(1, args.drain_messages // len(devices))
    total = per_device * len(devices)
    expected_readings = total * args.readings
    hub.start()  # creates the persistent session(s) and subscriptions
    hub.stop()
    baseline = (
        None if args.skip_raw else probes.BrokerBaseline(stack.mosquitto, "city/+/+/telemetry")
    )
    if baseline is not None:
        baseline.subscribe()  # the broker queues the same backlog for it
    console.print(f"drain: publishing a backlog of {total:,} messages while the hub is stopped")
    procs, out = load.start_publishers(
        specs(args, stack.mosquitto.port, devices, per_device, 0, time.time() - 86400, "city"),
        "bench-drain",
    )
    results = load.collect(procs, out)
    acked = sum(r.acked for r in results)
    assert acked == total, f"broker acknowledged {acked} of {total}"
    broker_rate = None
    if baseline is not None:
        console.print("baseline: mosquitto_sub drains its copy of the backlog")
        broker_rate = round(baseline.drain(total))
        baseline.remove()
    before = 0.0
    hub.start()
    meter = probes.CpuMeter({**cpu_groups, "hub": lambda: hub.pids})
    meter.start()
    rss_max = hub.rss()
    first_at: float | None = None
    with Progress(
        TextColumn("drain"),
        BarColumn(),
        TextColumn("{task.completed:,.0f} readings"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("drain", total=expected_readings)
        depth: list[float] = []
        while True:
            samples = hub.scrape()
            done = samples.get("hub_ingest_readings_total", 0.0)
            if first_at is not None:
                depth.append(samples.get("hub_ingest_queue_depth", 0.0))
            if done > 0 and first_at is None:
                first_at, before = time.monotonic(), done
            bar.update(task, completed=done)
            rss_max = max(rss_max, hub.rss())
            meter.sample()
            if done >= expected_readings:
                break
            # Scraping /metrics costs the hub CPU (3.5 % of its samples at every 0.1 s):
            # seldom, until the end is near.
            time.sleep(0.05 if done >= 0.95 * expected_readings else 0.5)
    elapsed = time.monotonic() - (first_at or time.monotonic())
    cpu = meter.stop()
    batches = batch_stats(hub.scrape())
    if depth:
        batches["mean_inbox_depth"] = round(sum(depth) / len(depth))
    hub.stop()
    readings, distinct = stored(url, "d-")
    rate = (done - before) / args.readings / max(elapsed, 1e-9)
    if elapsed < MIN_SUSTAINED_S:
        console.print(
            f"[yellow]drain lasted {elapsed:.1f} s, less than {MIN_SUSTAINED_S:.0f} s: "
            "raise --drain-messages for a sustained rate[/yellow]"
        )
    hub_cores = cpu.get("hub", 0.0)
    postgres_cores = cpu.get("postgres", 0.0)
    return {
        "broker_msgs_per_s": broker_rate,
        "drain_messages": total,
        "drain_seconds": round(elapsed, 2),
        "drain_msgs_per_s": round(rate),
        "drain_readings_per_s": round(rate * args.readings),
        "drain_lost": expected_readings - distinct,
        "drain_duplicated": readings - distinct,
        "drain_hub_rss_mb_max": round(rss_max, 1),
        "drain_cpu": cpu,
        # CPU per message (hub) and per reading (PostgreSQL): steadier than the rate
        # on a shared machine.
        "drain_hub_us_per_msg": round(hub_cores / max(rate, 1e-9) * 1e6, 2),
        "drain_postgres_us_per_reading": round(
            postgres_cores / max(rate * args.readings, 1e-9) * 1e6, 2
        ),
        "drain_batches": batches,
    }


def run_steady(
    args: argparse.Namespace, stack: Devstack, hub: Hub, url: str, cpu_groups: CpuGroups
) -> dict[str, Any]:
    devices = [f"s-{n:05d}" for n in range(args.devices)]
    per_device = max(1, int(args.rate * args.duration) // len(devices))
    total = per_device * len(devices)
    expected_readings = total * args.readings
    hub.start()
    before = hub.scrape()
    publisher_pids: list[int] = []
    meter = probes.CpuMeter(
        {**cpu_groups, "hub": lambda: hub.pids, "publishers": lambda: publisher_pids}
    )
    console.print(f"steady: {total:,} messages at {args.rate:,.0f} msg/s for ~{args.duration} s")
    procs, out = load.start_publishers(
        specs(args, stack.mosquitto.port, devices, per_device, args.rate, None, "city"),
        "bench-steady",
    )
    publisher_pids.extend(p.pid for p in procs if p.pid)
    meter.start()
    started = time.monotonic()
    rss_samples: list[float] = []
    while any(p.is_alive() for p in procs):
        rss_samples.append(hub.rss())
        meter.sample()
        time.sleep(0.5)
    results = load.collect(procs, out)
    deadline = time.monotonic() + 120
    while (
        hub.scrape().get("hub_ingest_readings_total", 0)
        - before.get("hub_ingest_readings_total", 0)
        < expected_readings
        and time.monotonic() < deadline
    ):
        rss_samples.append(hub.rss())
        time.sleep(0.2)
    elapsed = time.monotonic() - started
    cpu = meter.stop()
    after = hub.scrape()
    hub.stop()
    p50, p99 = probes.age_percentiles(before, after)
    readings, distinct = stored(url, "s-")
    publish_seconds = max(r.seconds for r in results)
    return {
        "msgs_per_s": round(total / publish_seconds),
        "readings_per_s": round(total * args.readings / publish_seconds),
        "steady_target_msgs_per_s": args.rate,
        "steady_seconds": round(elapsed, 1),
        "p50_ms": p50,
        "p99_ms": p99,
        "lost": expected_readings - distinct,
        "duplicated": readings - distinct,
        "hub_rss_mb_max": round(max(rss_samples), 1) if rss_samples else None,
        "hub_rss_mb_first_last": [round(rss_samples[0], 1), round(rss_samples[-1], 1)]
        if rss_samples
        else None,
        "steady_cpu": cpu,
        "published_acked": sum(r.acked for r in results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--mode", choices=["both", "drain", "steady"], default="both")
    parser.add_argument(
        "--drain-messages",
        type=int,
        default=2_000_000,
        help="backlog size in drain mode (default 2000000: 30 s at 65k msg/s; a drain "
        "shorter than 30 s is flagged)",
    )
    parser.add_argument("--rate", type=float, default=5000, help="steady rate, msg/s (5000)")
    parser.add_argument("--duration", type=float, default=30, help="steady seconds (30)")
    parser.add_argument("--devices", type=int, default=1000, help="devices per mode (1000)")
    parser.add_argument(
        "--readings", type=int, default=3, choices=range(1, 6), help="readings per message (3)"
    )
    parser.add_argument("--batch", type=int, default=None, help="HUB_BATCH_MAX_MESSAGES")
    parser.add_argument("--delay-ms", type=int, default=None, help="HUB_BATCH_MAX_DELAY_MS")
    parser.add_argument(
        "--receive-maximum", type=int, default=None, help="HUB_MQTT_RECEIVE_MAXIMUM"
    )
    parser.add_argument("--db-writers", type=int, default=None, help="HUB_DB_WRITERS")
    parser.add_argument(
        "--no-alerts",
        action="store_true",
        help="run the hub without its alert engine (HUB_ALERTS_ENABLED=false)",
    )
    parser.add_argument(
        "--sta-mqtt",
        action="store_true",
        help="publish every committed reading as a SensorThings Observation (HUB_STA_MQTT=true)",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="hub processes on a shared subscription (1)"
    )
    parser.add_argument(
        "--notify",
        action="store_true",
        help="pass readings between processes on LISTEN/NOTIFY (HUB_READINGS_NOTIFY=true): "
        "the alert engine of one process takes the readings of all",
    )
    parser.add_argument("--publishers", type=int, default=2, help="publisher processes (2)")
    parser.add_argument("--storage", choices=["auto", "plain", "timescale"], default="auto")
    parser.add_argument(
        "--fsync-off", action="store_true", help="run PostgreSQL without fsync (default: durable)"
    )
    parser.add_argument(
        "--skip-raw",
        action="store_true",
        help="skip the baselines (broker alone, COPY alone; drain mode)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS / "ingest.json")
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="record the hub with py-spy (collapsed stacks) to PATH.*.txt",
    )
    parser.add_argument(
        "--hub-tree",
        type=Path,
        default=None,
        help="run the hub (and its migrations) from another checkout of the project, to "
        "compare two versions in alternating runs",
    )
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="hub-bench-"))
    root.chmod(0o755)
    stack = Devstack(root, durable=not args.fsync_off).start()
    try:
        url = stack.postgres.create_database("bench")
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
        if args.hub_tree is None:
            with connect(url, "bench") as conn:
                level = migrate(conn, storage=args.storage)
        else:  # that checkout's migrations, run by its own code
            subprocess.run(
                [sys.executable, "-m", "hub", "migrate"],
                env={**env, "HUB_DATABASE_URL": url, "HUB_STORAGE": args.storage},
                cwd=args.hub_tree,
                check=True,
            )
            with connect(url, "bench") as conn:
                level = storage_level(conn)
        env.update(
            {
                "HUB_DATABASE_URL": url,
                "HUB_MQTT_URL": stack.mosquitto.url,
                "HUB_PROFILES_DIR": str(PROFILES),
                "HUB_LOG_LEVEL": "WARNING",
                "HUB_MAX_PAST_S": str(3 * 86400),
            }
        )
        if args.batch:
            env["HUB_BATCH_MAX_MESSAGES"] = str(args.batch)
        if args.receive_maximum:
            env["HUB_MQTT_RECEIVE_MAXIMUM"] = str(args.receive_maximum)
        if args.no_alerts:
            env["HUB_ALERTS_ENABLED"] = "false"
        if args.notify:
            env["HUB_READINGS_NOTIFY"] = "true"
        if args.db_writers:
            env["HUB_DB_WRITERS"] = str(args.db_writers)
        if args.sta_mqtt:
            env["HUB_STA_MQTT"] = "true"
        if args.delay_ms:
            env["HUB_BATCH_MAX_DELAY_MS"] = str(args.delay_ms)
        postmaster = stack.postgres.proc.pid if stack.postgres.proc else 0
        mosquitto = stack.mosquitto.proc.pid if stack.mosquitto.proc else 0
        cpu_groups: CpuGroups = {
            "postgres": lambda: [postmaster, *probes.descendants(postmaster)],
            "mosquitto": lambda: [mosquitto],
        }
        result: dict[str, Any] = {
            "hub_tree": str(args.hub_tree) if args.hub_tree else None,
            "storage": level,
            "durable": not args.fsync_off,
            "workers": args.workers,
            "devices": args.devices,
            "readings_per_message": args.readings,
            "batch_max_messages": args.batch,
            "alert_engine": not args.no_alerts,
            "sta_mqtt": args.sta_mqtt,
            "readings_notify": args.notify,
            "cores": os.cpu_count(),
        }
        hub = Hub(env, args.workers, root, args.profile, args.hub_tree)
        if args.mode in ("both", "drain"):
            result.update(run_drain(args, stack, hub, url, cpu_groups))
        if args.mode in ("both", "steady"):
            result.update(run_steady(args, stack, hub, url, cpu_groups))
        if not args.skip_raw and "drain_msgs_per_s" in result:
            console.print("baseline: psql \\copy of the drain's readings")
            result["copy_rows_per_s"] = round(probes.copy_baseline(url, "d-", root))
            if level == "timescale":
                result["copy_hypertable_rows_per_s"] = round(
                    probes.copy_baseline(url, "d-", root, hypertable=True)
                )
            limit = probes.combined_limit(
                result["broker_msgs_per_s"], result["copy_rows_per_s"], args.readings
            )
            result["combined_limit_msgs_per_s"] = round(limit)
            result["drain_share_of_limit"] = round(result["drain_msgs_per_s"] / limit, 3)
        report(result)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(result, indent=2) + "\n")
        console.print(f"written to {args.output}")
    finally:
        stack.stop()
        shutil.rmtree(root, ignore_errors=True)


def report(r: dict[str, Any]) -> None:
    table = Table(
        title=f"ingest benchmark ({r['storage']} storage, {r['workers']} hub "
        f"process(es), {r['cores']} cores, durable={r['durable']})"
    )
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("target / baseline")

    def row(name: str, key: str, target: str = "", fmt: str = "{:,}") -> None:
        if key in r and r[key] is not None:
            value = r[key]
            table.add_row(
                name, fmt.format(value) if not isinstance(value, dict) else str(value), target
            )

    row("drain msg/s (backlog, hub alone)", "drain_msgs_per_s", ">= 20,000")
    row("drain readings/s", "drain_readings_per_s", ">= 60,000")
    row("drain seconds (sustained)", "drain_seconds", f">= {MIN_SUSTAINED_S:.0f}", "{:,.1f}")
    row("drain lost / duplicated", "drain_lost", "0")
    row("drain duplicated", "drain_duplicated", "0")
    row("drain hub RSS max (MB)", "drain_hub_rss_mb_max", "<= 300")
    row("drain CPU (cores)", "drain_cpu")
    row("drain batches", "drain_batches")
    row("steady msg/s", "msgs_per_s")
    row("steady readings/s", "readings_per_s")
    row("p50 publish-to-committed (ms)", "p50_ms")
    row("p99 publish-to-committed (ms)", "p99_ms", "<= 250 at 5,000 msg/s")
    row("steady lost", "lost", "0")
    row("steady duplicated", "duplicated", "0")
    row("steady hub RSS max (MB)", "hub_rss_mb_max", "<= 300, flat")
    row("steady CPU (cores)", "steady_cpu")
    row("drain hub CPU per message (us)", "drain_hub_us_per_msg")
    row("drain PostgreSQL CPU per reading (us)", "drain_postgres_us_per_reading")
    row("baseline: broker alone msg/s (mosquitto_sub, same backlog)", "broker_msgs_per_s")
    row("baseline: COPY alone rows/s (psql \\copy, same readings)", "copy_rows_per_s")
    row("baseline: COPY into a hypertable rows/s", "copy_hypertable_rows_per_s")
    row(
        "combined limit msg/s: 1 / (1/broker + readings/COPY)",
        "combined_limit_msgs_per_s",
    )
    if r.get("drain_share_of_limit") is not None:
        table.add_row("hub drain / combined limit", f"{r['drain_share_of_limit']:.0%}", ">= 75%")
    if r.get("broker_msgs_per_s") and r.get("drain_msgs_per_s"):
        table.add_row(
            "hub drain / broker alone", f"{r['drain_msgs_per_s'] / r['broker_msgs_per_s']:.0%}", ""
        )
    if r.get("copy_rows_per_s") and r.get("drain_readings_per_s"):
        table.add_row(
            "hub drain readings / COPY alone",
            f"{r['drain_readings_per_s'] / r['copy_rows_per_s']:.0%}",
            "",
        )
    console.print(table)


if __name__ == "__main__":
    main()
