"""CPU cost of the ingest's pure steps, per message: no broker, no database.

    python -m bench.decode [--messages 100000] [--readings 3]

For street-light messages in the three payload formats (flat JSON as the ingest
benchmark sends, ``{"ts", "metrics"}``, and SenML as the simulators send), it
times parsing the JSON alone (orjson), the whole decode of a received message
(topic, payload, checks: the decode step as the ingest calls it), and the binary COPY encoding of the
readings, in microseconds per message (best of several rounds). It answers
whether a faster JSON parser could matter (compare the JSON and decode columns),
and what the hub's setting of the garbage collector is worth: the decode is
timed with Python's default thresholds and with the hub's
(``hub.service.GC_YOUNG_THRESHOLD``).
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson
from rich.console import Console
from rich.table import Table

from hub.commands.service import GC_YOUNG_THRESHOLD
from hub.config import Settings
from hub.ingest.mqtt import Inbound
from hub.ingest.pipeline import decode_inbound
from hub.model import Item
from hub.payloads import DecodeContext
from hub.profiles import load_profiles
from hub.store.copy_binary import encode_readings
from simulators.encoding import encode

PROFILES = Path(__file__).resolve().parent.parent / "device_profiles"
FORMATS = ("flat", "metrics", "senml")
METRICS = ("power", "energy", "dim_level", "voltage", "lamp_on")
ROUNDS = 5


def messages(settings: Settings, fmt: str, count: int, readings: int) -> list[Inbound]:
    profile = load_profiles(PROFILES)["street_light"]
    now = int(time.time())
    out = []
    for n in range(count):
        values: dict[str, float | bool] = dict(
            zip(
                METRICS[:readings],
                (40.0 + n % 50, 1000.0 + n * 0.01, float(n % 101), 230.0, True),
                strict=False,
            )
        )
        device = f"sl-{n % 1000:04d}"
        payload = encode(
            values,
            t=now - n % 600,
            device_id=device,
            profile=profile,
            payload_format=fmt,
            ts_style="epoch_s",
        )
        topic = f"{settings.topic_prefix}/street_light/{device}/telemetry"
        out.append(Inbound(topic, payload, 1, n % 65535 + 1, 1, time.time()))
    return out


def best_us(step: Callable[[], object], count: int) -> float:
    """Microseconds per message of the fastest of :data:`ROUNDS` rounds."""
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - started)
    return best / count * 1e6


def measure(context: DecodeContext, batch: list[Inbound]) -> list[str]:
    """Mean payload bytes, then microseconds per message of each step."""
    decoded = [decode_inbound(m, context) for m in batch]
    items = [d for d in decoded if type(d) is Item]
    if len(items) != len(batch):
        refused = next(d for d in decoded if type(d) is not Item)
        raise SystemExit(f"{len(batch) - len(items)} messages refused, e.g. {refused}")
    rows = [(n, r.time, r.value) for n, item in enumerate(items) for r in item.readings]
    payloads = [m.payload for m in batch]
    return [
        f"{sum(map(len, payloads)) / len(payloads):.0f}",
        f"{best_us(lambda: [orjson.loads(p) for p in payloads], len(batch)):.2f}",
        f"{best_us(lambda: [decode_inbound(m, context) for m in batch], len(batch)):.2f}",
        f"{hub_gc(lambda: best_us(lambda: [decode_inbound(m, context) for m in batch], len(batch))):.2f}",
        f"{best_us(lambda: encode_readings(rows), len(batch)):.2f}",
    ]


def hub_gc(step: Callable[[], float]) -> float:
    """Run ``step`` with the collector's young generation set as the hub sets it."""
    default = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, default[1], default[2])
    try:
        return step()
    finally:
        gc.set_threshold(*default)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.decode", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--readings", type=int, default=3, choices=range(1, 6))
    args = parser.parse_args()
    settings = Settings(profiles_dir=PROFILES, max_past_s=86400)
    context = DecodeContext.from_settings(settings, load_profiles(PROFILES))
    table = Table(
        title=f"ingest CPU per message, {args.readings} readings, microseconds (best of {ROUNDS})"
    )
    # orjson.loads alone; the decode step at Python's GC thresholds, then at the hub's
    columns = ("format", "bytes", "orjson", "decode", "decode, hub gc", "COPY encoding")
    for column in columns:
        table.add_column(column, justify="right")
    for fmt in FORMATS:
        table.add_row(fmt, *measure(context, messages(settings, fmt, args.messages, args.readings)))
    Console().print(table)
    print(f"measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {args.messages:,} messages per format")


if __name__ == "__main__":
    main()
