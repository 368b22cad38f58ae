"""Compare storage shapes for readings: write rate and size on disk.

    python -m bench.schema [--rows 1000000] [--devices 1000]

Starts a private PostgreSQL (hub.devstack), and for each shape COPYs the same rows
(binary) into a staging table, inserts them with ON CONFLICT DO NOTHING as the
hub does, and reports rows/s and bytes per reading. The numbers behind
docs/adr/0003-narrow-readings-with-series-ids.md come from this command. It first
migrates a database and stops if the hub's readings table no longer has the
first shape's columns and key.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from hub.devstack import Postgres
from hub.store import bulk
from hub.store.db import connect
from hub.store.migrate import migrate

METRICS = ("power", "energy", "dim_level")
# The hub's readings table as the first shape below (and bench.probes' raw COPY
# table) copy it. A migration that changes it makes this benchmark stop with the
# difference, rather than compare against a shape the hub no longer has.
HUB_READINGS = (
    (("series_id", "integer"), ("time", "timestamp with time zone"), ("value", "double precision")),
    ("series_id", "time"),
)


def check_hub_readings(url: str) -> None:
    """Stop unless the readings table of the migrated database at ``url`` still has
    the shape that these benchmarks copy."""
    with connect(url, "bench") as conn:
        shape = bulk.readings_shape(conn)
    if shape != HUB_READINGS:
        raise SystemExit(
            f"the hub's readings table changed: it is {shape}, the benchmarks copy "
            f"{HUB_READINGS}; update bench/schema.py's shapes and bench/probes.py"
        )


SHAPES: dict[str, dict[str, str]] = {
    "narrow, integer series id": {
        "table": """CREATE TABLE r (series_id int NOT NULL, time timestamptz NOT NULL,
                    value float8 NOT NULL, PRIMARY KEY (series_id, time))""",
        "staging": "CREATE TEMP TABLE s (series_id int, time timestamptz, value float8)",
        "copy": "COPY s FROM STDIN (FORMAT BINARY)",
        "types": "int4 timestamptz float8",
        "insert": "INSERT INTO r SELECT * FROM s ON CONFLICT DO NOTHING",
    },
    "narrow, text device and metric": {
        "table": """CREATE TABLE r (device text NOT NULL, metric text NOT NULL,
                    time timestamptz NOT NULL, value float8 NOT NULL,
                    PRIMARY KEY (device, metric, time))""",
        "staging": "CREATE TEMP TABLE s (device text, metric text, time timestamptz, value float8)",
        "copy": "COPY s FROM STDIN (FORMAT BINARY)",
        "types": "text text timestamptz float8",
        "insert": "INSERT INTO r SELECT * FROM s ON CONFLICT DO NOTHING",
    },
    "one row per message, jsonb values": {
        "table": """CREATE TABLE r (device_id int NOT NULL, time timestamptz NOT NULL,
                    values jsonb NOT NULL, PRIMARY KEY (device_id, time))""",
        "staging": "CREATE TEMP TABLE s (device_id int, time timestamptz, values jsonb)",
        "copy": "COPY s FROM STDIN (FORMAT BINARY)",
        "types": "int4 timestamptz jsonb",
        "insert": "INSERT INTO r SELECT * FROM s ON CONFLICT DO NOTHING",
    },
}


def _rows(shape: str, messages: int, devices: int) -> list[tuple[object, ...]]:
    rng = random.Random(1)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows: list[tuple[object, ...]] = []
    for n in range(messages):
        device = n % devices
        at = start + timedelta(seconds=n // devices)
        values = [rng.uniform(0, 100) for _ in METRICS]
        if shape.startswith("one row"):
            from psycopg.types.json import Jsonb

            rows.append((device, at, Jsonb(dict(zip(METRICS, values, strict=True)))))
        elif "integer" in shape:
            rows.extend((device * 4 + i, at, v) for i, v in enumerate(values))
        else:
            rows.extend(
                (f"sl-{device:05d}", m, at, v) for m, v in zip(METRICS, values, strict=True)
            )
    return rows


def measure(
    url: str, shape: str, spec: dict[str, str], messages: int, devices: int, batch: int
) -> tuple[float, float]:
    rows = _rows(shape, messages, devices)
    per_message = len(rows) // messages
    with connect(url, "bench", autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS r")
        conn.execute(spec["table"])
        conn.execute(spec["staging"])
        started = time.perf_counter()
        step = batch * per_message
        for first in range(0, len(rows), step):
            with conn.transaction(), conn.cursor() as cur:
                with cur.copy(spec["copy"]) as copy:
                    copy.set_types(spec["types"].split())
                    for row in rows[first : first + step]:
                        copy.write_row(row)
                cur.execute(spec["insert"])
                cur.execute("TRUNCATE s")
        elapsed = time.perf_counter() - started
        size_row = conn.execute("SELECT pg_total_relation_size('r')").fetchone()
        assert size_row is not None
    readings = messages * len(METRICS)
    return readings / elapsed, int(size_row[0]) / readings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--messages", type=int, default=300_000, help="messages of 3 readings each (default 300000)"
    )
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=5000, help="messages per transaction")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="hub-bench-"))
    root.chmod(0o755)
    pg = Postgres(root, timescaledb=False).start()
    try:
        hub_url = pg.create_database("hub")
        with connect(hub_url, "bench", autocommit=True) as conn:
            migrate(conn, storage="plain")
        check_hub_readings(hub_url)
        url = pg.create_database("bench")
        table = Table(
            title=f"{args.messages} messages x {len(METRICS)} readings, "
            f"{args.devices} devices, {args.batch} messages per commit"
        )
        table.add_column("shape")
        table.add_column("readings/s", justify="right")
        table.add_column("bytes/reading", justify="right")
        for shape, spec in SHAPES.items():
            rate, size = measure(url, shape, spec, args.messages, args.devices, args.batch)
            table.add_row(shape, f"{rate:,.0f}", f"{size:.1f}")
        Console().print(table)
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
