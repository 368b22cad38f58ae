"""Measurements around the benchmark: process CPU and memory, the hub's /metrics,
and the baselines: the broker alone and PostgreSQL's COPY alone, on the same
backlog and readings as the hub's drain."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.schema import check_hub_readings
from hub.devstack import Mosquitto
from hub.store.db import connect

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


def _psql(url: str, command: str) -> None:
    psql = shutil.which("psql") or "/usr/bin/psql"
    env = {**os.environ, "PGOPTIONS": "-c client_min_messages=warning"}
    subprocess.run([psql, url, "-qXc", command], check=True, env=env, stdout=subprocess.DEVNULL)


# The readings the drain stored, in the binary COPY format the hub's writer sends.
_EXPORT_DRAIN = (
    "\\copy (SELECT r.series_id, r.time, r.value FROM readings r "
    "JOIN series s ON s.id = r.series_id JOIN devices d ON d.id = s.device "
    "WHERE d.device_id LIKE '{prefix}%') TO '{path}' (FORMAT binary)"
)
_BASELINE_TABLE = (
    "DROP TABLE IF EXISTS copy_baseline; CREATE TABLE copy_baseline (LIKE readings INCLUDING ALL)"
)
_BASELINE_HYPERTABLE = (
    "SELECT create_hypertable('copy_baseline', 'time', chunk_time_interval => "
    "(SELECT d.time_interval FROM timescaledb_information.dimensions d "
    "WHERE d.hypertable_name = 'readings'))"
)


def copy_baseline(url: str, prefix: str, workdir: Path, *, hypertable: bool = False) -> float:
    """Rows per second of psql's ``\\copy`` (a C client, one transaction) of the
    readings of the devices whose id starts with ``prefix`` (the drain's own
    readings, exported in binary COPY format as the hub sends them) into an empty
    table like ``readings`` (same columns and primary key); a plain table unless
    ``hypertable`` (then with the same chunk interval as ``readings``)."""
    check_hub_readings(url)
    workdir.chmod(0o755)
    path = workdir / "copy-baseline.bin"
    _psql(url, _EXPORT_DRAIN.format(prefix=prefix, path=path))
    path.chmod(0o644)
    try:
        _psql(url, _BASELINE_TABLE)
        if hypertable:
            _psql(url, _BASELINE_HYPERTABLE)
        started = time.perf_counter()
        _psql(url, f"\\copy copy_baseline FROM '{path}' (FORMAT binary)")
        seconds = time.perf_counter() - started
        with connect(url, "bench") as conn:
            row = conn.execute("SELECT count(*) FROM copy_baseline").fetchone()
        _psql(url, "DROP TABLE copy_baseline")
    finally:
        path.unlink(missing_ok=True)
    return int(row[0] if row else 0) / seconds


class BrokerBaseline:
    """A plain QoS 1 subscriber (mosquitto_sub, C) on its own persistent session.

    Subscribed before a backlog is published, it gets the same messages queued as
    the hub; :meth:`drain` then times how fast it empties its queue.
    """

    CLIENT_ID = "bench-baseline"

    def __init__(self, broker: Mosquitto, topic: str) -> None:
        sub = shutil.which("mosquitto_sub") or "/usr/bin/mosquitto_sub"
        self._command = [
            sub,
            *("-h", "127.0.0.1", "-p", str(broker.port)),
            *("-q", "1", "-c", "-i", self.CLIENT_ID, "-t", topic, "-V", "mqttv311"),
        ]

    def subscribe(self) -> None:
        subprocess.run([*self._command, "-E"], check=True)  # create the session

    def remove(self) -> None:
        """End the session (a clean-session connect), so later loads do not queue for it."""
        subprocess.run([*(a for a in self._command if a != "-c"), "-E"], check=True)

    def drain(self, messages: int) -> float:
        """Messages per second of receiving (and acknowledging) ``messages``."""
        started = time.perf_counter()
        subprocess.run([*self._command, "-C", str(messages)], check=True, stdout=subprocess.DEVNULL)
        return messages / (time.perf_counter() - started)


def combined_limit(broker_msgs_per_s: float, copy_rows_per_s: float, readings: int) -> float:
    """Messages per second if each message cost what it costs the broker alone plus
    what its readings cost COPY alone: 1 / (1/broker + readings/COPY)."""
    return 1 / (1 / broker_msgs_per_s + readings / copy_rows_per_s)
