"""Measurements around the benchmark: process CPU and memory, the hub's /metrics,
and the raw rates of the broker and of PostgreSQL's COPY for comparison."""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench.schema import check_hub_readings
from hub.devstack import Mosquitto, Postgres

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def descendants(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@dataclass
class CpuMeter:
    """CPU used by named groups of processes between start() and stop().

    Groups are functions returning pids, asked again at every sample(), so
    processes that start later (database backends, publishers) are counted too;
    a process that ends keeps the CPU it was last seen with.
    """

    groups: dict[str, Callable[[], list[int]]]
    _first: dict[int, float] = field(default_factory=dict)
    _last: dict[int, float] = field(default_factory=dict)
    _members: dict[str, set[int]] = field(default_factory=dict)
    _t0: float = 0.0

    def sample(self) -> None:
        for name, pids in self.groups.items():
            for pid in pids():
                used = cpu_seconds(pid)
                if used <= 0:
                    continue
                self._members.setdefault(name, set()).add(pid)
                self._last[pid] = used

    def start(self) -> None:
        self._members.clear()
        self._last.clear()
        self.sample()
        self._first = dict(self._last)
        self._t0 = time.monotonic()

    def stop(self) -> dict[str, float]:
        """CPU use of each group as a share of one core (1.0 = one full core)."""
        self.sample()
        wall = time.monotonic() - self._t0
        return {
            name: round(
                sum(self._last[p] - self._first.get(p, 0.0) for p in self._members.get(name, ()))
                / wall,
                2,
            )
            for name in self.groups
        }


def scrape(port: int) -> dict[str, float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            samples[key] = float(value)
    return samples


_BUCKET = re.compile(r'^hub_ingest_reading_age_seconds_bucket\{le="([^"]+)"\}$')


def age_percentiles(
    before: dict[str, float], after: dict[str, float], quantiles: tuple[float, ...] = (0.5, 0.99)
) -> list[float | None]:
    """Quantiles (ms) of the reading-age histogram between two scrapes, interpolated
    linearly inside the bucket (so precise to the bucket edges: 5, 10, 25, 50, 75,
    100, 150, 200, 250, 300, 400, 500, 750 ms, ...)."""
    buckets = []
    for key, value in after.items():
        match = _BUCKET.match(key)
        if match:
            edge = float("inf") if match.group(1) == "+Inf" else float(match.group(1))
            buckets.append((edge, value - before.get(key, 0.0)))
    buckets.sort()
    total = buckets[-1][1] if buckets else 0
    results: list[float | None] = []
    for q in quantiles:
        if total <= 0:
            results.append(None)
            continue
        target = q * total
        lower_edge, lower_count = 0.0, 0.0
        for edge, count in buckets:
            if count >= target:
                if edge == float("inf"):
                    results.append(lower_edge * 1000)
                else:
                    share = (target - lower_count) / max(count - lower_count, 1e-9)
                    results.append(round((lower_edge + share * (edge - lower_edge)) * 1000, 1))
                break
            lower_edge, lower_count = edge, count
    return results


def raw_copy_rate(pg: Postgres, url: str, rows: int, workdir: Path) -> float:
    """Rows per second of psql's \\copy (a C client) into a table shaped like readings
    (the migrated database at ``url`` is checked to still have that shape)."""
    check_hub_readings(url)
    path = workdir / "copy.csv"
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        for n in range(rows):
            writer.writerow((n % 3000, (start + timedelta(milliseconds=n)).isoformat(), n * 0.5))
    path.chmod(0o644)
    workdir.chmod(0o755)
    psql = shutil.which("psql") or "/usr/bin/psql"
    setup = (
        "DROP TABLE IF EXISTS raw_copy; CREATE TABLE raw_copy (series_id int, "
        "time timestamptz, value float8, PRIMARY KEY (series_id, time));"
    )
    subprocess.run([psql, url, "-qc", setup], check=True)
    started = time.perf_counter()
    subprocess.run([psql, url, "-qc", f"\\copy raw_copy FROM '{path}' (FORMAT csv)"], check=True)
    rate = rows / (time.perf_counter() - started)
    subprocess.run([psql, url, "-qc", "DROP TABLE raw_copy"], check=True)
    path.unlink()
    return rate


def raw_broker_rate(broker: Mosquitto, messages: int, publish_backlog: object) -> float:
    """Messages per second that mosquitto_sub (C) drains from a QoS 1 backlog."""
    sub = shutil.which("mosquitto_sub") or "/usr/bin/mosquitto_sub"
    common = [
        sub,
        "-h",
        "127.0.0.1",
        "-p",
        str(broker.port),
        "-q",
        "1",
        "-c",
        "-i",
        "bench-raw",
        "-t",
        "raw/#",
        "-V",
        "mqttv311",
    ]
    subprocess.run([*common, "-E"], check=True)  # create the persistent session
    publish_backlog()  # type: ignore[operator]
    started = time.perf_counter()
    subprocess.run([*common, "-C", str(messages)], check=True, stdout=subprocess.DEVNULL)
    return messages / (time.perf_counter() - started)
