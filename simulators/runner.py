"""Run a fleet against a broker: live (real time or faster) or as a fast backfill."""

from __future__ import annotations

import heapq
import logging
import math
import multiprocessing
import signal
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from hub.profiles import Profile, load_profiles
from simulators.faults import Fault, resolve_faults
from simulators.fleet import DeviceSpec, build_fleet
from simulators.publisher import Publisher, PublishError, status_topics
from simulators.stream import DeviceRunner, fleet_messages
from simulators.weather import Environment

log = logging.getLogger("simulators")
_FIRST_REPORT_WALL_S = 3.0  # every device reports within this many wall seconds


@dataclass(frozen=True)
class SimClock:
    """Simulated time for a wall time. Never ahead of the wall clock when sped up,
    because the hub refuses readings stamped in the future: a sped-up run starts in
    the past and continues in real time once it has caught up."""

    wall0: float
    sim0: float
    speedup: float

    def sim(self, wall: float) -> float:
        t = self.sim0 + (wall - self.wall0) * self.speedup
        return min(t, wall) if self.speedup > 1 else t

    def wall(self, sim: float) -> float:
        w = self.wall0 + (sim - self.sim0) / self.speedup
        return max(w, sim) if self.speedup > 1 else w


def make_clock(speedup: float, duration_s: float | None, start: datetime | None) -> SimClock:
    wall0 = time.time()
    if start is not None:
        sim0 = start.timestamp()
    elif speedup > 1 and duration_s is not None:
        # Catch up with "now" exactly when the run ends.
        sim0 = wall0 - duration_s * (speedup - 1)
    elif speedup > 1:
        sim0 = wall0 - 86_400.0  # replay the last day fast, then go on live
    else:
        sim0 = wall0
    return SimClock(wall0, min(sim0, wall0), speedup)


class _Stop:
    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True


@contextmanager
def _stoppable() -> Iterator[_Stop]:
    """Turn SIGTERM and Ctrl-C into a flag so the run ends cleanly."""
    stop = _Stop()
    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _console() -> Console:
    return Console(stderr=True)


def run_fleet(
    *,
    url: str,
    prefix: str,
    fleet: Sequence[DeviceSpec],
    profiles: Mapping[str, Profile],
    seed: int,
    speedup: float,
    duration_s: float | None,
    start: datetime | None,
    interval_s: float | None,
    faults: Sequence[Fault],
    timezone: str,
    per_device: bool,
    connections: int,
    quiet: bool,
) -> int:
    """Publish the fleet live until the duration ends or SIGTERM/Ctrl-C. Returns 0."""
    clock = make_clock(speedup, duration_s, start)
    windows = resolve_faults(faults, fleet, start=clock.sim0, seed=seed)
    runners = [
        DeviceRunner(
            d,
            profiles[d.profile],
            Environment(seed=seed, lat=d.lat, timezone=timezone),
            start=clock.sim0,
            interval_s=interval_s,
            faults=windows.get(d.device_id, ()),
            prefix=prefix,
            first_within_s=_FIRST_REPORT_WALL_S * speedup,
        )
        for d in fleet
    ]
    publisher = Publisher(
        url,
        status_topics=status_topics(prefix, [(d.device_id, d.profile) for d in fleet]),
        per_device=per_device,
        connections=connections,
        client_prefix=f"sim-{seed}",
    )
    publisher.connect()
    console = _console()
    log.info(
        "fleet of %d devices publishing to %s (speedup %g, %s connections)",
        len(fleet), url, speedup, "per-device" if per_device else connections,
    )  # fmt: skip
    heap = [(r.next_event(), i) for i, r in enumerate(runners)]
    heapq.heapify(heap)
    end_wall = clock.wall0 + duration_s if duration_s is not None else math.inf
    progress = _progress(console, quiet or duration_s is None, "live")
    task = progress.add_task("publishing", total=duration_s or None)
    last_report = time.monotonic()
    with _stoppable() as stop, progress:
        while not stop.requested:
            now = time.time()
            if now >= end_wall:
                break
            due_wall = clock.wall(heap[0][0]) if heap else math.inf
            if due_wall > now:
                publisher.pump(min(due_wall - now, end_wall - now, 0.2))
                progress.update(task, completed=min(now - clock.wall0, duration_s or 0))
                if duration_s is None and not quiet and time.monotonic() - last_report > 60:
                    last_report = time.monotonic()
                    _report(console, publisher, clock.sim(now))
                continue
            sim_now = clock.sim(now)
            while heap and heap[0][0] <= sim_now:
                _, index = heapq.heappop(heap)
                for message in runners[index].advance(sim_now):
                    publisher.publish(message)
                heapq.heappush(heap, (runners[index].next_event(), index))
            publisher.pump(0)
    complete = publisher.close(mark_offline=True)
    _report(console, publisher, clock.sim(time.time()))
    if not complete:
        console.print(f"[yellow]{len(publisher.unacked)} publishes were not acknowledged[/]")
    return 0


@dataclass(frozen=True)
class BackfillJob:
    """Everything a backfill worker needs; plain values so it crosses processes."""

    url: str
    prefix: str
    profiles_dir: str
    devices: int
    seed: int
    lat: float
    lon: float
    mix: dict[str, float] | None
    start: datetime
    end: datetime
    interval_s: float | None
    faults: tuple[Fault, ...]
    timezone: str
    status: bool


def run_backfill(job: BackfillJob, *, workers: int, quiet: bool) -> int:
    """Publish the history from ``job.start`` to ``job.end`` as fast as the broker takes it.

    The fleet is split over ``workers`` processes, each with its own connection:
    generating and publishing both cost CPU, and one process tops out near 5k msg/s.
    """
    profiles = load_profiles(Path(job.profiles_dir))
    fleet = build_fleet(profiles, job.devices, seed=job.seed, lat=job.lat, lon=job.lon, mix=job.mix)
    span = job.end.timestamp() - job.start.timestamp()
    expected = sum(
        math.ceil(span / (job.interval_s or profiles[d.profile].expected_interval_s)) for d in fleet
    )
    workers = max(1, min(workers, len(fleet)))
    ctx = multiprocessing.get_context("spawn")
    counts = ctx.Array("q", workers)
    results = ctx.Array("i", [-1] * workers)
    stop_event = ctx.Event()
    procs = [
        ctx.Process(
            target=_backfill_worker,
            args=(job, index, workers, counts, results, stop_event),
            name=f"backfill-{index}",
        )
        for index in range(workers)
    ]
    console = _console()
    started = time.monotonic()
    for proc in procs:
        proc.start()
    progress = _progress(console, quiet, "backfill")
    task = progress.add_task(f"{job.start:%Y-%m-%d} → {job.end:%Y-%m-%d}", total=expected)
    with _stoppable() as stop, progress:
        while any(p.is_alive() for p in procs):
            if stop.requested:
                stop_event.set()
            progress.update(task, completed=sum(counts[:]))
            time.sleep(0.2)
        progress.update(task, completed=sum(counts[:]))
    for proc in procs:
        proc.join()
    sent = sum(counts[:])
    elapsed = time.monotonic() - started
    failed = [i for i in range(workers) if results[i] != 0]
    console.print(
        f"backfill: {sent} messages from {len(fleet)} devices in {elapsed:.1f}s "
        f"({sent / max(elapsed, 1e-9):.0f} msg/s, {workers} workers)"
        + (f"; {len(failed)} workers failed or left publishes unacknowledged" if failed else ""),
        highlight=False,
    )
    return 1 if failed else 0


def _backfill_worker(
    job: BackfillJob,
    index: int,
    workers: int,
    counts: Any,
    results: Any,
    stop_event: Any,
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    profiles = load_profiles(Path(job.profiles_dir))
    fleet = build_fleet(profiles, job.devices, seed=job.seed, lat=job.lat, lon=job.lon, mix=job.mix)
    shard = [d for i, d in enumerate(fleet) if i % workers == index]
    publisher = Publisher(
        job.url,
        status_topics=status_topics(job.prefix, [(d.device_id, d.profile) for d in shard]),
        per_device=False,
        client_prefix=f"sim-backfill-{job.seed}-{index}",
    )
    try:
        publisher.connect()
    except PublishError as exc:
        log.error("%s", exc)
        results[index] = 2
        return
    messages = fleet_messages(
        fleet, profiles, job.start, job.end, seed=job.seed, faults=job.faults,
        interval_s=job.interval_s, prefix=job.prefix, timezone=job.timezone,
        status=job.status, only=[d.device_id for d in shard],
    )  # fmt: skip
    sent = 0
    for message in messages:
        publisher.publish(message)
        sent += 1
        if sent % 200 == 0:
            publisher.pump(0)
            counts[index] = sent
            if stop_event.is_set():
                break
    counts[index] = sent
    complete = publisher.close(mark_offline=False, timeout=60)
    results[index] = 0 if complete else 1


def _progress(console: Console, disable: bool, _kind: str) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=disable or not console.is_terminal,
        transient=False,
    )


def _report(console: Console, publisher: Publisher, sim_t: float) -> None:
    when = datetime.fromtimestamp(sim_t, UTC).strftime("%Y-%m-%d %H:%M:%S")
    console.print(
        f"sim time {when}Z: {publisher.published} published, {publisher.acked} acknowledged, "
        f"{len(publisher.unacked)} in flight",
        highlight=False,
    )
