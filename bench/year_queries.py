"""The measuring half of bench/year.py: the dashboard's requests, the API's and the
store's long-range queries, a year's CSV export and the alert engine's scheduled
run, timed on the loaded year (round-robin, as bench/queries.py does)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from psycopg_pool import AsyncConnectionPool
from rich.console import Console
from rich.table import Table

from bench.queries import Query, measure
from hub.access import generate_key, hash_key, shown_prefix
from hub.alerts.engine import Engine
from hub.api.app import create_app
from hub.api.readings import latest_lookback
from hub.api.replica import ReadRoute
from hub.commands.service import tune_gc
from hub.config import load_settings
from hub.devstack import free_port
from hub.events import EventBus
from hub.profiles import load_profiles
from hub.store import apikeys, readings, year_store
from hub.store import devices as device_store
from hub.store.db import aconnect, connect_kwargs

PROFILES = Path(__file__).resolve().parent.parent / "device_profiles"
SERIES_OF = """
SELECT d.device_id, s.id FROM series s JOIN devices d ON d.id = s.device WHERE s.metric = %(metric)s
"""

# The targets at the TimescaleDB level (ms unless said otherwise).
TARGETS = {
    "dashboard": 100.0,
    "store: hourly means of a device, 365 days": 100.0,
    "store: daily water sums of a district, 365 days": 300.0,
    "store: latest of the fleet": 50.0,
    "export_rows_per_s": 200_000.0,
    "bytes_per_reading": 12.0,
    "alert_run_s": 2.0,
}
# The dashboard's device page (hub/dashboard/static/device.js): range -> bucket.
RANGES = {"1h": (timedelta(hours=1), None), "24h": (timedelta(days=1), "5m"),
          "7d": (timedelta(days=7), "1h"), "30d": (timedelta(days=30), "3h")}  # fmt: skip


def _percentiles(series: list[float]) -> dict[str, float]:
    series = sorted(series)
    return {
        "p50": round(statistics.median(series), 3),
        "p99": round(series[min(len(series) - 1, int(len(series) * 0.99))], 3),
    }


async def measure_all(
    url: str,
    level: str,
    runs: int,
    console: Console,
    out: dict[str, Any],
    save: Callable[[], None],
    live: Callable[[], None] = lambda: None,
    fresh_alerts: bool = False,
) -> None:
    """Every timing into ``out``; ``save`` after each group of them."""
    # This process stands in for the hub's: the same garbage-collector settings as
    # `hub run` (a year of hourly means builds 43,800 points; with Python's default
    # thresholds its collections took 25-40 ms of a 60 ms query).
    tune_gc()
    profiles = load_profiles(PROFILES)
    settings = _settings(url)
    app = create_app(settings, profiles=profiles)
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
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=120
            )
        )
        key = generate_key()  # the dashboard's operator, as `hub apikey create` makes one
        await apikeys.ainsert(
            conn, name="bench", role="admin", key_hash=hash_key(key), prefix=shown_prefix(key)
        )
        client.headers["X-API-Key"] = key
        fleet = await device_store.list_devices(conn, device_store.DeviceFilter(), limit=10_000)
        by_id = {d.device_id: d for d in fleet}
        ids = sorted(by_id)
        water_districts = sorted({d.district or "" for d in fleet if d.profile == "water_meter"})
        end = datetime.now(UTC)
        year = end - timedelta(days=365)

        async def get(path: str, params: dict[str, Any]) -> int:
            r = await client.get(path, params=params)
            r.raise_for_status()
            return len(r.content)

        async def overview(_: str) -> int:
            day = (end - timedelta(days=1)).isoformat()
            return (
                await get("/api/v1/devices", {"limit": 1000})
                + await get("/api/v1/alerts", {"state": "open", "limit": 1000})
                + await get("/api/v1/alerts", {"state": "acknowledged", "limit": 1000})
                + await get("/api/v1/dead-letters", {"from": day, "limit": 1000})
            )

        async def inbox(_: str) -> int:
            return await get("/api/v1/alerts", {"state": "open", "limit": 1000}) + await get(
                "/api/v1/alerts", {"state": "acknowledged", "limit": 1000}
            )

        def device_page(span: timedelta, bucket: str | None) -> Query:
            async def run(device: str) -> int:
                now = datetime.now(UTC)
                metrics = list(profiles[by_id[device].profile].metrics)
                params: dict[str, Any] = {
                    "from": (now - span - timedelta(minutes=1)).isoformat(),
                    "to": (now + timedelta(minutes=1)).isoformat(),
                    "metric": metrics,
                }
                if bucket:
                    params |= {"bucket": bucket, "agg": "avg"}
                return await get(f"/api/v1/devices/{device}", {}) + await get(
                    f"/api/v1/devices/{device}/readings", params
                )

            return run

        async def hourly_year(device: str) -> int:
            grid = readings.make_grid(timedelta(hours=1), "UTC", year, end)
            return len(
                await readings.buckets(
                    conn, by_id[device].id, metrics=None, grid=grid, aggregate="avg"
                )
            )

        async def hourly_year_api(device: str) -> int:
            # One metric: a year of hours is 8,760 buckets, HUB_API_MAX_ROWS is 10,000.
            metric = next(iter(profiles[by_id[device].profile].metrics))
            params = {"bucket": "1h", "agg": "avg", "metric": metric}
            params |= {"from": year.isoformat(), "to": end.isoformat()}
            return await get(f"/api/v1/devices/{device}/readings", params)

        async def district_water(device: str) -> int:
            district = water_districts[hash(device) % len(water_districts)]
            rows = await year_store.district_daily(conn, district, "water_meter", "flow", year, end)
            return len(rows)

        lookback = latest_lookback(profiles)  # as GET /readings/latest asks

        async def latest_fleet(_: str) -> int:
            rows = await readings.latest_page(
                conn, device_store.DeviceFilter(), limit=len(ids), lookback=lookback
            )
            return len(rows)

        async def latest_fleet_api(_: str) -> int:
            return await get("/api/v1/readings/latest", {"limit": len(ids)})

        cur = await conn.execute(SERIES_OF, {"metric": "power"})
        power_series = dict(await cur.fetchall())
        lights = [d for d in ids if d in power_series] or ids
        meters = [d for d in ids if by_id[d].profile == "water_meter"] or ids
        types = {name: p.fiware_type for name, p in profiles.items()}
        day_ago = (end - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")  # ~860 at 5 min

        def entity(device: str) -> str:
            return f"urn:ngsi-ld:{types[by_id[device].profile]}:{device}"

        def light(device: str) -> str:
            return lights[hash(device) % len(lights)]

        def meter(device: str) -> str:
            return meters[hash(device) % len(meters)]

        async def sta_observations(device: str) -> int:
            path = f"/sta/v1.1/Datastreams({power_series[light(device)]})/Observations"
            params = {"$top": "1000", "$filter": f"phenomenonTime ge {day_ago}"}
            return await get(path, params)

        async def sta_things(_: str) -> int:
            expand = "Datastreams($expand=Observations($top=1;$orderby=phenomenonTime desc))"
            return await get("/sta/v1.1/Things", {"$top": "100", "$expand": expand})

        async def ngsi_entities(_: str) -> int:
            return await get("/ngsi-ld/v1/entities", {"type": "Streetlight", "limit": 1000})

        def ngsi_temporal(pick: Any, span: timedelta, method: str, period: str) -> Query:
            async def run(device: str) -> int:
                now = datetime.now(UTC)
                params = {
                    "timerel": "between",
                    "timeAt": (now - span).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "endTimeAt": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "aggrMethods": method,
                    "aggrPeriodDuration": period,
                }
                return await get(f"/ngsi-ld/v1/temporal/entities/{entity(pick(device))}", params)

            return run

        queries: dict[str, Query] = {
            "dashboard: overview": overview,
            **{f"dashboard: device page {r}": device_page(*spec) for r, spec in RANGES.items()},
            "dashboard: alert inbox": inbox,
            "store: hourly means of a device, 365 days": hourly_year,
            "api: hourly means of one metric, 365 days": hourly_year_api,
            "store: daily water sums of a district, 365 days": district_water,
            "store: latest of the fleet": latest_fleet,
            "api: GET /readings/latest (the fleet)": latest_fleet_api,
            "sta: Datastreams(id)/Observations, $top=1000, 3 days": sta_observations,
            "sta: Things, $top=100, each Datastream's latest Observation": sta_things,
            "ngsi-ld: GET /entities?type=Streetlight (the lights' current state)": ngsi_entities,
            "ngsi-ld: temporal, a water meter's daily sums over a year (P1D)": ngsi_temporal(
                meter, timedelta(days=365), "sum", "P1D"
            ),
            "ngsi-ld: temporal, a street light's hourly means over 30 days (PT1H)": ngsi_temporal(
                light, timedelta(days=30), "avg,max", "PT1H"
            ),
        }
        console.print(f"  timing {len(queries)} queries x {runs} runs")
        out["queries"] = await measure(queries, ids, runs)
        save()
        out["export"] = await _export(url, key, ids, year, end, max(3, runs // 10))
        save()
        await asyncio.to_thread(live)
        out["alert_run"] = await _alert_run(settings, profiles, level, url, 2, fresh_alerts)
        save()


def _settings(url: str) -> Any:
    return load_settings(
        database_url=url, profiles_dir=PROFILES, open_data=True, export_max_range_days=400
    )


def serve(url: str, port: int) -> None:
    """The hub's API alone, as ``hub run`` serves it (uvicorn, lifespan on), for the
    export over real TCP: run in a process of its own by :func:`_export`."""
    app = create_app(_settings(url), profiles=load_profiles(PROFILES))
    uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, access_log=False)


async def _export(
    url: str, key: str, ids: list[str], start: datetime, end: datetime, runs: int
) -> dict[str, Any]:
    """A year's CSV export of one (street-light) device over TCP from a uvicorn of
    its own (ASGITransport hands a streamed body over only when it is complete):
    time to the first byte of the body, total, rows per second."""
    rng = random.Random(2)
    lights = [d for d in ids if d.startswith("sl-")] or ids
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        f"from bench.year_queries import serve; serve({url!r}, {port})",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.STDOUT,
    )
    ttfb: list[float] = []
    total: list[float] = []
    rates: list[float] = []
    lines = 0
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": key}, timeout=300
        ) as client:
            deadline = time.monotonic() + 60
            while True:  # until the server answers
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/healthz")).status_code == 200:
                        break
                if time.monotonic() > deadline or server.returncode is not None:
                    raise RuntimeError("the export's API server did not start")
                await asyncio.sleep(0.2)
            for _ in range(runs):
                params = {
                    "device": rng.choice(lights),
                    "from": start.isoformat(),
                    "to": end.isoformat(),
                }
                started = time.perf_counter()
                first = None
                lines = 0
                async with client.stream("GET", "/api/v1/exports/readings.csv", params=params) as r:
                    r.raise_for_status()
                    async for chunk in r.aiter_raw():
                        if first is None:
                            first = time.perf_counter() - started
                        lines += chunk.count(b"\n")
                took = time.perf_counter() - started
                ttfb.append((first or took) * 1000)
                total.append(took * 1000)
                rates.append((lines - 1) / took)
    finally:
        server.terminate()
        await server.wait()
    return {
        "rows": lines - 1,
        "runs": runs,
        "over": "TCP, uvicorn in its own process",
        "ttfb_ms": _percentiles(ttfb),
        "total_ms": _percentiles(total),
        "rows_per_s_p50": round(statistics.median(rates)),
    }


async def _alert_run(
    settings: Any, profiles: Any, level: str, url: str, runs: int, fresh: bool = False
) -> dict[str, Any]:
    """The alert engine's scheduled run (every window, stale and domain rule of the
    profiles' default rules over the whole town), as its scheduler calls it.
    ``fresh``: the town's alerts deleted first, so that the first run opens them
    again, as it does after a fresh load."""
    engine = Engine(settings, profiles, storage=level, bus=EventBus())
    async with await aconnect(url, "bench", autocommit=True) as conn:
        if fresh:
            await year_store.delete_alerts(conn)
        await engine.start(conn)
        times = []
        changed = 0
        for _ in range(runs + 1):
            started = time.perf_counter()
            changed += await engine.run_scheduled(conn)
            times.append(time.perf_counter() - started)
    first, rest = times[0], times[1:]
    return {"first_s": round(first, 3), "runs": runs, **_percentiles(rest), "alerts": changed}


def print_report(console: Console, report: dict[str, Any]) -> None:
    table = Table(title="A year of a town (ms)")
    for col in ("query", "p50", "p99", "target"):
        table.add_column(col, justify="left" if col == "query" else "right")
    for name, q in report.get("queries", {}).items():
        target = TARGETS.get("dashboard" if name.startswith("dashboard") else name)
        table.add_row(name, f"{q['p50_ms']:.1f}", f"{q['p99_ms']:.1f}", f"{target or ''}")
    console.print(table)
    if "export" in report:
        e = report["export"]
        console.print(
            f"export of a year: {e['rows']:,} rows, first byte p50 {e['ttfb_ms']['p50']:.0f} ms,"
            f" total p50 {e['total_ms']['p50']:.0f} ms, {e['rows_per_s_p50']:,} rows/s"
        )
    if "alert_run" in report:
        a = report["alert_run"]
        console.print(f"alert engine scheduled run: p50 {a['p50']:.2f} s, p99 {a['p99']:.2f} s")
    console.print(f"bytes per reading: {report.get('bytes_per_reading')}")
    if report.get("compressed_chunks"):
        console.print(f"compressed chunks: {report['compressed_chunks']}")
