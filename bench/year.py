"""A year of a town: storage cost and query speed on a year of readings.

    python -m bench.year [--storage timescale|plain] [--days 365] [--devices 500]
                         [--runs 30] [--jobs 2] [--data DIR [--reuse]]

Starts a private PostgreSQL (hub.devstack), migrates a database at the chosen storage
level and builds the town the simulators build (simulators.fleet: 70 % street lights,
25 % water meters, 5 % air-quality monitors, placed in the same districts and
streets), then writes ``--days`` of readings ending now at each profile's reporting
interval through the store's bulk path (hub.store.bulk_town: one ``generate_series``
statement per profile and day, ``--jobs`` at a time). For 500 devices and 365 days
that is about 220 million readings.

Then the storage level's policies are run to their end state: TimescaleDB's
continuous aggregates refreshed over all time and every chunk older than the
compression policy's 7 days compressed; at the plain level the rollup tables filled.
Bytes per reading are taken before and after. The town is then topped up to the
current time (it would be silent otherwise, and the stale rule would open an alert
per device), and the dashboard's, the API's, SensorThings' and NGSI-LD's queries
are timed round-robin (as bench/queries.py does), a year's CSV export over TCP
from a uvicorn of its own, and the alert engine's scheduled run; everything goes
to bench/results/year.json, written after every step.

``--data DIR`` keeps the cluster in DIR; ``--reuse`` measures an existing one again
without loading (new migrations applied, the refresh and compression left
finished first).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from hub.devstack import Postgres
from hub.profiles import load_profiles
from hub.store import bulk_town, year_store
from hub.store.db import connect
from hub.store.migrate import migrate
from simulators.fleet import build_fleet

RESULTS = Path(__file__).parent / "results" / "year.json"
PROFILES = Path(__file__).resolve().parent.parent / "device_profiles"
MIX = {"street_light": 0.70, "water_meter": 0.25, "air_quality": 0.05}
DB = "bench_year"
DISK_LIMIT_GB = 40.0
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def _progress(console: Console) -> Progress:
    """A live bar on a terminal; in a log (nohup) a plain line every 30 s instead."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


class LogProgress:
    """What :func:`_progress` shows, as lines for a log file: ``every_s`` apart."""

    def __init__(self, console: Console, every_s: float = 30.0) -> None:
        self.console = console
        self.every_s = every_s
        self.tasks: dict[TaskID, dict[str, Any]] = {}

    def __enter__(self) -> LogProgress:
        return self

    def __exit__(self, *_: object) -> None:
        for task in self.tasks:
            self._say(task)

    def add_task(self, description: str, total: int, rate: str = "") -> TaskID:
        now = time.monotonic()
        task = TaskID(len(self.tasks))
        self.tasks[task] = {
            "description": description, "total": total, "done": 0, "rate": rate,
            "started": now, "said": now,
        }  # fmt: skip
        return task

    def update(self, task: TaskID, advance: int = 0, rate: str | None = None) -> None:
        t = self.tasks[task]
        t["done"] += advance
        if rate is not None:
            t["rate"] = rate
        if time.monotonic() - t["said"] >= self.every_s:
            self._say(task)

    def _say(self, task: TaskID) -> None:
        t = self.tasks[task]
        t["said"] = now = time.monotonic()
        took = now - t["started"]
        share = t["done"] / t["total"] if t["total"] else 1.0
        left = took / share - took if share else 0.0
        self.console.print(
            f"  {t['description']}: {t['done']:,}/{t['total']:,} ({share:.1%}) {t['rate']}"
            f" elapsed {took / 60:.1f} min, left ~{left / 60:.1f} min",
            highlight=False,
        )


def progress(console: Console) -> Progress | LogProgress:
    return _progress(console) if console.is_terminal else LogProgress(console)


class DiskWatch:
    """The size of a directory tree, sampled every few seconds; keeps the peak."""

    def __init__(self, path: Path, every_s: float = 5.0) -> None:
        self.path = path
        self.every_s = every_s
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def size(self) -> int:
        total = 0
        for root, _, files in os.walk(self.path):
            for name in files:
                # A file may go while walking (WAL recycled, temp file).
                with contextlib.suppress(OSError):
                    total += os.lstat(os.path.join(root, name)).st_size
        return total

    def sample(self) -> int:
        now = self.size()
        self.peak = max(self.peak, now)
        return now

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.sample()

    def __enter__(self) -> DiskWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


def town_rows(devices: int) -> list[dict[str, object]]:
    profiles = load_profiles(PROFILES)
    fleet = build_fleet({k: profiles[k] for k in MIX}, devices, mix=MIX)
    return [
        {
            "device_id": d.device_id,
            "profile": d.profile,
            "name": f"{d.street} ({d.device_id})",
            "district": d.district,
            "lat": d.lat,
            "lon": d.lon,
        }
        for d in fleet
    ]


def load(
    url: str,
    level: str,
    devices: int,
    days: int,
    jobs: int,
    console: Console,
    chunk_days: int | None = None,
) -> dict[str, Any]:
    """Migrate, build the town and write its readings; returns the load's figures."""
    profiles = load_profiles(PROFILES)
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = end - timedelta(days=days)
    with connect(url, "bench", autocommit=True) as conn:
        migrate(conn, storage=level)
        year_store.pause_jobs(conn, level)  # the policies are run to their end below
        if chunk_days and level == "timescale":
            year_store.set_chunk_days(conn, chunk_days)
        rows = town_rows(devices)
        bulk_town.insert_devices(conn, rows)
        per_profile = {p: sum(1 for r in rows if r["profile"] == p) for p in MIX}
    work = []
    for a, b in bulk_town.slices(start, end, timedelta(days=1)):
        for profile in MIX:
            step = timedelta(seconds=profiles[profile].expected_interval_s)
            work.append((profile, a, b, step))
    expected = sum(
        per_profile[p] * len(bulk_town.TOWN_METRICS[p]) * int((b - a) / step)
        for p, a, b, step in work
    )
    local = threading.local()
    conns: list[Any] = []

    def run(item: tuple[str, datetime, datetime, timedelta]) -> int:
        if not hasattr(local, "conn"):
            local.conn = connect(url, "bench", autocommit=True)
            conns.append(local.conn)
        return bulk_town.fill_slice(local.conn, *item)

    written = 0
    started = time.perf_counter()
    with progress(console) as bar, ThreadPoolExecutor(jobs) as pool:
        task = bar.add_task("readings", total=expected, rate="")
        for n in pool.map(run, work):
            written += n
            rate = written / max(time.perf_counter() - started, 1e-9)
            bar.update(task, advance=n, rate=f"{rate:,.0f} rows/s")
    seconds = time.perf_counter() - started
    for c in conns:
        c.close()
    with connect(url, "bench", autocommit=True) as conn:
        bulk_town.set_last_seen(conn, end - timedelta(days=1))
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "devices": per_profile,
        "readings": written,
        "seconds": round(seconds, 1),
        "rows_per_s": round(written / seconds),
    }


def policies(
    url: str, level: str, console: Console, out: dict[str, Any], save: Callable[[], None]
) -> None:
    """The storage level's background work run to its end state, timed, into ``out``.

    Resumable: each step is recorded (and ``save`` called) when it ends, and a step
    already recorded is run again only as a check, which costs little (a refresh of
    a range with nothing invalidated, chunks already compressed are skipped).
    """
    with connect(url, "bench", autocommit=True) as conn:
        if level == "plain":
            if "rollups_s" not in out:
                # One statement (hub_refresh_rollups over everything): no steps to count,
                # so a line when it starts, a spinner while it runs (on a terminal) and
                # a line with its time when it ends.
                console.print("  rollups: filling the hourly and daily rollups (minutes)")
                started = time.perf_counter()
                with console.status("  rollups: filling"):
                    year_store.fill_rollups_plain(conn)
                out["rollups_s"] = round(time.perf_counter() - started, 1)
                console.print(f"  rollups filled in {out['rollups_s']} s")
                save()
            conn.execute("VACUUM ANALYZE")
            return
        windows = year_store.months(conn)
        started = time.perf_counter()
        with progress(console) as bar:
            for view in ("readings_1h", "readings_1d"):
                task = bar.add_task(f"refresh {view}", total=len(windows), rate="")
                for a, b in windows:
                    year_store.refresh(conn, view, a, b)
                    bar.update(task, advance=1)
        took = round(time.perf_counter() - started, 1)
        out.setdefault("refresh_s", took)
        if "refresh_s" in out and out["refresh_s"] != took:
            out["refresh_again_s"] = took
        # Statistics only: the refresh has just read every row (hint bits set); a
        # VACUUM of the uncompressed year would read the heap once more for nothing.
        conn.execute("ANALYZE")
        if "size_before_compression" not in out and not year_store.compressed(conn).get("chunks"):
            out["size_before_compression"] = year_store.sizes(conn, level)
        save()
        chunks = year_store.chunks_to_compress(conn)
        started = time.perf_counter()
        with progress(console) as bar:
            task = bar.add_task("compress", total=len(chunks), rate="")
            for chunk in chunks:
                year_store.compress(conn, chunk)
                bar.update(task, advance=1)
        took = round(time.perf_counter() - started, 1)
        if "compress_s" in out:
            out["compress_again_s"] = took
        else:
            out["compress_s"] = took
        out["chunks_compressed"] = len(chunks)
        conn.execute("VACUUM ANALYZE")
        save()


def top_up(url: str, level: str, report: dict[str, Any]) -> dict[str, str]:
    """The readings from where the town stopped (each profile's newest reading in
    the database) until now, at each profile's interval, and the rollups refreshed
    over them as the policies would (TimescaleDB: up to an hour ago). Measured
    minutes or hours after the load, the town would otherwise be silent: the stale
    rule would open an alert for every device, and the alert engine's run would time
    that, not its steady state. Returns the new end per profile."""
    profiles = load_profiles(PROFILES)
    load_end = datetime.fromisoformat(report["load"]["end"])
    now = datetime.now(UTC)
    out = {}
    first = now
    with connect(url, "bench", autocommit=True) as conn:
        for profile in MIX:
            step = timedelta(seconds=profiles[profile].expected_interval_s)
            start = bulk_town.newest(conn, profile) + step
            first = min(first, start)
            end = start + ((now - start) // step) * step
            if end > start:
                bulk_town.fill_slice(conn, profile, start, end, step)
            out[profile] = end.isoformat()
        bulk_town.set_last_seen(conn, load_end - timedelta(days=1))
        if level == "timescale":  # windows of two buckets at least, as refresh asks
            for view, lag in (("readings_1h", HOUR), ("readings_1d", DAY)):
                until = now - lag
                year_store.refresh(conn, view, min(first - lag, until - 2 * lag), until)
        else:
            year_store.refresh_rollups_plain(conn)
    return out


def per_reading(report: dict[str, Any]) -> dict[str, float]:
    """Bytes per reading: the readings table, its indexes and the aggregates, now and
    (TimescaleDB) before compression."""
    n = max(int(report.get("readings") or 0), 1)
    out: dict[str, float] = {}
    for key, sizes in (
        ("", report.get("size") or {}),
        ("before_compression_", report.get("policies", {}).get("size_before_compression") or {}),
    ):
        if not sizes:
            continue
        table = sizes.get("readings", {"table": 0, "indexes": 0})
        rollups = sum(v["table"] + v["indexes"] for k, v in sizes.items() if k != "readings")
        out[key + "table"] = round(table["table"] / n, 2)
        out[key + "indexes"] = round(table["indexes"] / n, 2)
        out[key + "aggregates"] = round(rollups / n, 2)
        out[key + "total"] = round((table["table"] + table["indexes"] + rollups) / n, 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--storage", choices=("timescale", "plain"), default="timescale")
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=2, help="loading connections")
    parser.add_argument(
        "--chunk-days", type=int, help="TimescaleDB chunk interval (default: the migrations')"
    )
    parser.add_argument("--data", type=Path, help="keep the cluster in this directory")
    parser.add_argument("--reuse", action="store_true", help="measure --data again, no load")
    parser.add_argument(
        "--fresh-alerts",
        action="store_true",
        help="delete the town's alerts before the alert run (its first run opens them again)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    console = Console()
    root = args.data or Path(tempfile.mkdtemp(prefix="hub-bench-year-"))
    pg = Postgres(root, durable=False).start()
    if args.storage == "timescale" and not pg.timescaledb:
        pg.stop()
        raise SystemExit("TimescaleDB is not installed: run with --storage plain")
    everything: dict[str, Any] = {}
    if args.output.exists():
        everything = json.loads(args.output.read_text())
    report: dict[str, Any] = {}
    if args.reuse:
        report = everything.get("levels", {}).get(args.storage, {})
    everything.setdefault("levels", {})[args.storage] = report
    report["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    command = (
        f"python -m bench.year --storage {args.storage} --devices {args.devices} "
        f"--days {args.days} --runs {args.runs} --jobs {args.jobs}"
        + (f" --chunk-days {args.chunk_days}" if args.chunk_days else "")
    )
    if args.reuse:
        report.setdefault("command", command)
        report["measured_again"] = (
            command + " --data DIR --reuse" + (" --fresh-alerts" if args.fresh_alerts else "")
        )
    else:
        report["command"] = command

    def save() -> None:
        """The report so far, written after every step: a crash keeps what was done."""
        report["load_average"] = [round(x, 2) for x in os.getloadavg()]
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(everything, indent=2) + "\n")

    try:
        if args.reuse:
            url = pg.url(DB)
            with connect(url, "bench", autocommit=True) as conn:
                migrate(conn, storage=args.storage)  # migrations added since the load
                year_store.pause_jobs(conn, args.storage)
        else:
            url = pg.create_database(DB)
            year_store.tune_server(pg.url())
        with DiskWatch(pg.data) as disk:
            if not args.reuse:
                console.print(
                    f"[bold]{args.storage}[/bold]: {args.devices} devices x {args.days} days"
                )
                report["load"] = load(
                    url, args.storage, args.devices, args.days, args.jobs, console, args.chunk_days
                )
                console.print(
                    f"  {report['load']['readings']:,} readings in {report['load']['seconds']} s"
                    f" ({report['load']['rows_per_s']:,} rows/s)"
                )
                report["peak_disk_gb"] = round(disk.sample() / 1e9, 2)
                save()
            policies(url, args.storage, console, report.setdefault("policies", {}), save)
        report["peak_disk_gb"] = max(report.get("peak_disk_gb", 0), round(disk.peak / 1e9, 2))
        report["disk_limit_gb"] = DISK_LIMIT_GB
        console.print(f"  peak disk {report['peak_disk_gb']} GB")
        report["topped_up_to"] = top_up(url, args.storage, report)
        with connect(url, "bench", autocommit=True) as conn:
            report["size"] = year_store.sizes(conn, args.storage)
            report["readings"] = year_store.count(conn)
            if args.storage == "timescale":
                report["compressed_chunks"] = year_store.compressed(conn)
        report["bytes_per_reading"] = per_reading(report)
        save()
        from bench import year_queries  # the measuring half, imported when it is needed

        def live() -> None:  # again right before the alert run: a town still reporting
            report["topped_up_to"] = top_up(url, args.storage, report)

        asyncio.run(
            year_queries.measure_all(
                url, args.storage, args.runs, console, report, save, live, args.fresh_alerts
            )
        )
    finally:
        pg.stop()
        if args.data is None:
            shutil.rmtree(root, ignore_errors=True)
    year_queries.print_report(console, report)
    save()
    console.print(f"written to {args.output}")


if __name__ == "__main__":
    main()
