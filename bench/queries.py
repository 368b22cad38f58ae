"""Query speed of the API on a backfilled fleet, at each storage level.

    python -m bench.queries [--devices 1000] [--days 30] [--runs 50] [--no-compress]

Starts a private PostgreSQL (hub.devstack; TimescaleDB preloaded when installed,
and then both storage levels are measured), migrates a database per level, and
fills it with SQL ``generate_series`` (hub.store.bulk): ``--devices`` street lights reporting three
metrics every 15 minutes for ``--days`` days (8.6 million readings by default).
Rollups are built as the hub keeps them (plain: the writer's tables, filled here in
one statement; TimescaleDB: continuous aggregates refreshed, and chunks older than
7 days compressed as the hub's policy would).

Then it times the API's main queries, each on a random device per run, both at
the store level (the SQL the endpoint runs) and through the whole app in-process
(routing, validation, JSON; no TCP), and prints p50/p99 and writes them to
bench/results/queries.json. Targets: the fleet's latest values and one device's
hourly means over 30 days, each under 50 ms.

The SensorThings API is timed on the same data in the same run, each beside the
hub's own endpoint for the same answer: 1,000 Observations of a Datastream
filtered on phenomenonTime (target 50 ms) against a raw-readings page of 1,000,
and 100 Things with their Datastreams and each one's latest Observation (target
200 ms) against /readings/latest for 100 devices.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from psycopg_pool import AsyncConnectionPool
from rich.console import Console
from rich.table import Table

from hub.api.app import create_app
from hub.api.replica import ReadRoute
from hub.commands.service import tune_gc
from hub.config import load_settings
from hub.devstack import Postgres
from hub.profiles import load_profile
from hub.store import bulk, readings
from hub.store import devices as device_store
from hub.store.db import aconnect, connect, connect_kwargs
from hub.store.migrate import migrate

RESULTS = Path(__file__).parent / "results" / "queries.json"
PROFILES = Path(__file__).resolve().parent.parent / "device_profiles"
METRICS = ("power", "voltage", "dim_level")
TARGET_MS = 50.0
STA_TARGETS_MS = {"sta_observations": 50.0, "sta_things_latest": 200.0}
SERIES_OF = "SELECT d.device_id, s.id FROM series s JOIN devices d ON d.id = s.device WHERE s.metric = 'power'"


def fill(
    url: str, level: str, devices: int, days: int, compress: bool, say: Callable[[str], None]
) -> int:
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    start = end - timedelta(days=days)
    with connect(url, "bench", autocommit=True) as conn:
        migrate(conn, storage=level)
        started = time.perf_counter()
        bulk.fill_fleet(conn, devices=devices, metrics=METRICS, start=start, end=end)
        say(f"  readings written in {time.perf_counter() - started:.0f} s")
        started = time.perf_counter()
        bulk.build_rollups(conn, level)
        say(f"  rollups built in {time.perf_counter() - started:.0f} s")
        if level == "timescale" and compress:
            started = time.perf_counter()
            chunks = bulk.compress_older_than(conn, days=7)
            say(f"  {chunks} chunks compressed in {time.perf_counter() - started:.0f} s")
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")  # so that writing back the fill does not weigh on the timings
        return bulk.count_readings(conn)


Query = Callable[[str], Awaitable[int]]


async def measure(
    queries: dict[str, Query], ids: list[str], runs: int
) -> dict[str, dict[str, Any]]:
    """Time every query ``runs`` times, round-robin (so that a burst of load from
    elsewhere on the machine hits all of them alike), each run on a random device."""
    rng = random.Random(1)
    times: dict[str, list[float]] = {name: [] for name in queries}
    rows: dict[str, int] = {}
    for run in range(runs + 3):
        for name, query in queries.items():
            device = rng.choice(ids)
            started = time.perf_counter()
            rows[name] = await query(device)
            if run >= 3:  # the first rounds warm caches and prepare statements
                times[name].append((time.perf_counter() - started) * 1000)
    results = {}
    for name, series in times.items():
        series.sort()
        results[name] = {
            "p50_ms": round(statistics.median(series), 2),
            "p99_ms": round(series[min(len(series) - 1, int(len(series) * 0.99))], 2),
            "mean_ms": round(statistics.fmean(series), 2),
            "rows": rows[name],
            "runs": runs,
        }
    return results


async def run_queries(url: str, devices: int, days: int, runs: int) -> dict[str, dict[str, Any]]:
    tune_gc()  # this process stands in for the hub's: `hub run`'s collector settings
    end = datetime.now(UTC)
    start = end - timedelta(days=days)
    settings = load_settings(database_url=url, profiles_dir=PROFILES, open_data=True)
    app = create_app(
        settings, profiles={"street_light": load_profile(PROFILES / "street_light.yaml")}
    )
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        url, kwargs=connect_kwargs("bench"), min_size=2, max_size=4, open=False
    )
    async with contextlib.AsyncExitStack() as stack:
        conn = await stack.enter_async_context(await aconnect(url, "bench", autocommit=True))
        await pool.open()
        stack.push_async_callback(pool.close)
        app.state.pool = pool
        app.state.reads = ReadRoute(pool, None)  # what the lifespan would set: no replica
        client = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")
        )
        fleet = await device_store.list_devices(
            conn, device_store.DeviceFilter(), limit=devices + 1
        )
        pk = {d.device_id: d.id for d in fleet}

        # The SQL of each endpoint, as the API runs it.
        async def latest_fleet(_: str) -> int:
            rows = await readings.latest_page(conn, device_store.DeviceFilter(), limit=devices + 1)
            return len(rows)

        def bucketed(width: timedelta, tz: str, agg: str, span: timedelta) -> Query:
            async def run(device: str) -> int:
                grid = readings.make_grid(width, tz, end - span, end)
                return len(
                    await readings.buckets(conn, pk[device], metrics=None, grid=grid, aggregate=agg)
                )

            return run

        async def raw_day(device: str) -> int:
            points = await readings.raw(
                conn, pk[device], metrics=None, start=end - timedelta(days=1), end=end, limit=10001
            )
            return len(points)

        # The whole endpoint, in-process: routing, validation, SQL, JSON.
        def http(path: Callable[[str], str], params: dict[str, Any]) -> Query:
            async def run(device: str) -> int:
                r = await client.get(path(device), params=params)
                r.raise_for_status()
                # Counted, not parsed: the client's JSON decoding is not the API's time.
                key = b'"device_id"' if "latest" in r.url.path else b'"metric"'
                return r.content.count(key)

            return run

        cur = await conn.execute(SERIES_OF)
        power_series = dict(await cur.fetchall())
        since = end - timedelta(days=11)  # about 1,050 readings at 15 minutes: a full page
        since_text = since.strftime("%Y-%m-%dT%H:%M:%SZ")

        def sta(path: Callable[[str], str], params: dict[str, Any], key: bytes) -> Query:
            async def run(device: str) -> int:
                r = await client.get(path(device), params=params)
                r.raise_for_status()
                return r.content.count(key)

            return run

        window = {"from": start.isoformat(), "to": end.isoformat()}
        queries: dict[str, Query] = {
            "store: latest of the fleet": latest_fleet,
            f"store: hourly means, {days} days": bucketed(
                timedelta(hours=1), "UTC", "avg", end - start
            ),
            "store: raw readings, 1 day": raw_day,
            f"store: daily means in Europe/Oslo, {days} days": bucketed(
                timedelta(days=1), "Europe/Oslo", "avg", end - start
            ),
            "store: 15-min maxima from raw (date_bin), 7 days": bucketed(
                timedelta(minutes=15), "UTC", "max", timedelta(days=7)
            ),
            "api: GET /readings/latest (the fleet)": http(
                lambda _: "/api/v1/readings/latest", {"limit": devices}
            ),
            f"api: GET /devices/{{id}}/readings?bucket=1h ({days} days)": http(
                lambda d: f"/api/v1/devices/{d}/readings", {"bucket": "1h", **window}
            ),
            "api: GET /devices/{id}/readings (raw, 1 day)": http(
                lambda d: f"/api/v1/devices/{d}/readings", {}
            ),
            f"api: GET /devices/{{id}}/readings?bucket=1d&tz=Europe/Oslo ({days} days)": http(
                lambda d: f"/api/v1/devices/{d}/readings",
                {"bucket": "1d", "tz": "Europe/Oslo", **window},
            ),
            "sta: GET Datastreams(id)/Observations?$top=1000&$filter=phenomenonTime ge ...": sta(
                lambda d: f"/sta/v1.1/Datastreams({power_series[d]})/Observations",
                {"$top": "1000", "$filter": f"phenomenonTime ge {since_text}"},
                b'"result"',
            ),
            "api (same data): GET /devices/{id}/readings?metric=power&limit=1000": http(
                lambda d: f"/api/v1/devices/{d}/readings",
                {
                    "metric": "power",
                    "from": since.isoformat(),
                    "to": end.isoformat(),
                    "limit": 1000,
                },
            ),
            "sta: GET Things?$top=100&$expand=Datastreams($expand=Observations($top=1;"
            "$orderby=phenomenonTime desc))": sta(
                lambda _: "/sta/v1.1/Things",
                {
                    "$top": "100",
                    "$expand": "Datastreams($expand=Observations($top=1;"
                    "$orderby=phenomenonTime desc))",
                },
                b'"result"',
            ),
            "api (same data): GET /readings/latest?limit=100": http(
                lambda _: "/api/v1/readings/latest", {"limit": 100}
            ),
        }
        return await measure(queries, list(pk), runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument(
        "--no-compress", action="store_true", help="leave TimescaleDB chunks uncompressed"
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    console = Console()
    root = Path(tempfile.mkdtemp(prefix="hub-bench-queries-"))
    pg = Postgres(root, durable=False).start()
    levels = ["plain", "timescale"] if pg.timescaledb else ["plain"]
    report: dict[str, Any] = {
        "command": "python -m bench.queries "
        + f"--devices {args.devices} --days {args.days} --runs {args.runs}"
        + (" --no-compress" if args.no_compress else ""),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "fleet": {
            "devices": args.devices,
            "metrics_per_device": len(METRICS),
            "interval_min": 15,
            "days": args.days,
        },
        "target_ms": TARGET_MS,
        "sta_targets_ms": STA_TARGETS_MS,
        "levels": {},
    }
    try:
        for level in levels:
            console.print(
                f"[bold]{level}[/bold]: filling {args.devices} devices x {args.days} days"
            )
            url = pg.create_database(f"bench_{level}")
            total = fill(url, level, args.devices, args.days, not args.no_compress, console.print)
            console.print(f"  {total:,} readings")
            results = asyncio.run(run_queries(url, args.devices, args.days, args.runs))
            report["levels"][level] = {"readings": total, "queries": results}
            for name, q in results.items():
                console.print(f"  {name}: p50 {q['p50_ms']:.1f} ms, p99 {q['p99_ms']:.1f} ms")
            pg.create_database(f"bench_{level}")  # drop it: free the disk for the next level
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)

    table = Table(title=f"API queries, {args.devices} devices x {args.days} days (ms)")
    table.add_column("query")
    for level in levels:
        table.add_column(f"{level} p50", justify="right")
        table.add_column(f"{level} p99", justify="right")
    table.add_column("rows", justify="right")
    for name in report["levels"][levels[0]]["queries"]:
        cells = []
        for level in levels:
            q = report["levels"][level]["queries"][name]
            cells += [f"{q['p50_ms']:.1f}", f"{q['p99_ms']:.1f}"]
        table.add_row(name, *cells, str(report["levels"][levels[0]]["queries"][name]["rows"]))
    console.print(table)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    console.print(f"written to {args.output}")


if __name__ == "__main__":
    main()
