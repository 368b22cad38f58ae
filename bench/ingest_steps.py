"""CPU of the ingest's steps around a batch, per message, against another checkout.

    python -m bench.ingest_steps [--against DIR] [--rounds 7] [--step NAME]

A batch of 5,000 street-light messages of 3 readings (what ``bench.ingest`` drains)
goes through the hub's own code, without broker or database: ``decode`` (the
decode step of each received message), ``bus`` (the committed readings published
to the event bus, with the alert engine's subscription and no point rule on these
metrics), ``acks`` (the batch's acknowledgements in receive order and the MQTT
session's PUBACKs) and ``ages`` (the reading-age histogram). Each step is timed
``--rounds`` times (best kept). With ``--against DIR`` every round also runs in a
child process on that checkout's code (its ``hub`` package), alternating, so both
see the same machine; a step that checkout lacks is still run the way its code
did it. On a shared machine, run under ``valgrind --tool=callgrind`` with
``--step`` for instruction counts, which do not depend on the load.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

BATCH = 5000
DEVICES = 1000
ROOT = Path(__file__).resolve().parent.parent
STEPS = ("decode", "bus", "acks", "ages")


def _payload(seq: int, ts: float) -> bytes:  # as bench.load sends it (3 readings)
    return orjson.dumps(
        {"ts": round(ts, 6), "power": 40.0 + seq % 50, "energy": 1000.0 + seq * 0.01,
         "dim_level": seq % 101}
    )  # fmt: skip


def _messages() -> list[Any]:
    from hub.ingest.mqtt import Inbound

    base = time.time() - 86400
    return [
        Inbound(
            f"city/street_light/d-{n % DEVICES:05d}/telemetry",
            _payload(n // DEVICES, base + (n // DEVICES) * 0.001),
            1,
            1 + n % 65535,
            1,
            time.time(),
        )
        for n in range(BATCH)
    ]


def _decoded(messages: list[Any]) -> tuple[Callable[[], object], list[Any]]:
    from hub.config import load_settings
    from hub.ingest.pipeline import decode_inbound
    from hub.payloads import DecodeContext
    from hub.profiles import load_profiles

    settings = load_settings(
        database_url="postgresql://bench@127.0.0.1/none",
        profiles_dir=ROOT / "device_profiles",
        max_past_s=3 * 86400,
    )
    context = DecodeContext.from_settings(settings, load_profiles(settings.profiles_dir))
    items = [decode_inbound(m, context) for m in messages]
    assert all(type(i).__name__ == "Item" for i in items), items[0]
    return lambda: [decode_inbound(m, context) for m in messages], items


def _bus(items: list[Any]) -> Callable[[], object]:
    from hub.events import Event, EventBus

    readings = [r for item in items for r in item.readings]
    profiles = {item.device_id: item.profile for item in items}
    point_rules = {("street_light", "voltage")}  # a rule, not on these three metrics

    def wants(event: Event) -> bool:  # the alert engine's filter, rules loaded
        return event.type == "reading" and (event.profile, event.data.get("metric")) in point_rules

    bus = EventBus()
    if "readings" in inspect.signature(bus.subscribe).parameters:
        bus.subscribe(accept=wants, readings=lambda p, m: (p, m) in point_rules)
    else:
        bus.subscribe(accept=wants)
    return lambda: bus.publish_readings(readings, profiles)


class _Transport:
    def __init__(self) -> None:
        self.sent = 0

    def write(self, data: bytes) -> None:
        self.sent += len(data)


def _acks(messages: list[Any]) -> Callable[[], object]:
    from hub.ingest.acks import InOrderAcks
    from hub.ingest.mqtt import MqttSession
    from hub.model import Outcome

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    session = MqttSession(
        "mqtt://127.0.0.1:1",
        client_id="bench",
        topics=[],
        on_message=lambda m: None,
        on_connection_lost=lambda: None,
        session_expiry_s=0,
        receive_maximum=65535,
    )
    session._conn = _Transport()  # type: ignore[assignment]
    session.generation = 1
    if hasattr(session, "ack_all"):
        acks = InOrderAcks(session.ack_all)
    else:  # the pipeline's callback then: one message at a time
        acks = InOrderAcks(lambda message: session.ack(message))

    async def one() -> None:
        acks.committed(acks.number(), messages, Outcome())
        await asyncio.sleep(0)  # the PUBACKs are written on the next turn

    return lambda: loop.run_until_complete(one())


def _ages(items: list[Any]) -> Callable[[], object]:
    from hub.ingest import metrics

    if hasattr(metrics, "observe_all"):

        def batch() -> None:
            now = time.time()
            metrics.observe_all(
                metrics.READING_AGE,
                [now - item.readings[0].time.timestamp() for item in items if item.readings],
            )

        return batch

    def one_by_one() -> None:
        now = time.time()
        for item in items:
            if item.readings:
                metrics.READING_AGE.observe(now - item.readings[0].time.timestamp())

    return one_by_one


def steps(names: tuple[str, ...]) -> dict[str, Callable[[], object]]:
    messages = _messages()
    decode, items = _decoded(messages)
    made = {
        "decode": lambda: decode,
        "bus": lambda: _bus(items),
        "acks": lambda: _acks(messages),
        "ages": lambda: _ages(items),
    }
    return {name: made[name]() for name in names}


def measure(names: tuple[str, ...], rounds: int) -> dict[str, float]:
    """Best microseconds per message of each step over ``rounds``."""
    runs = steps(names)
    best = {name: float("inf") for name in names}
    for _ in range(rounds):
        for name, run in runs.items():
            started = time.process_time()
            run()
            best[name] = min(best[name], (time.process_time() - started) / BATCH * 1e6)
    return {name: round(us, 3) for name, us in best.items()}


def _child(tree: Path, names: tuple[str, ...]) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, str(Path(__file__)), "--json", "--rounds", "1", *_step_args(names)],
        env={**os.environ, "PYTHONPATH": str(tree)},
        cwd=tree,
        check=True,
        capture_output=True,
    )
    result: dict[str, float] = json.loads(out.stdout)
    return result


def _step_args(names: tuple[str, ...]) -> list[str]:
    return [a for name in names for a in ("--step", name)]


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest_steps", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--against", type=Path, default=None, help="another checkout")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--step", action="append", choices=STEPS, help="only these steps")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    names = tuple(args.step or STEPS)
    if args.json or args.against is None:
        result = measure(names, args.rounds)
        print(json.dumps(result) if args.json else result)
        return
    here: dict[str, float] = {}
    there: dict[str, float] = {}
    for _ in range(args.rounds):  # alternating, one round each: both see the same load
        for name, us in _child(args.against, names).items():
            there[name] = min(there.get(name, float("inf")), us)
        for name, us in _child(ROOT, names).items():
            here[name] = min(here.get(name, float("inf")), us)
    print(
        f"us per message, best of {args.rounds} alternating rounds; load {os.getloadavg()[0]:.1f}"
    )
    print(f"{'step':8} {args.against!s:>24} {'this tree':>12}")
    for name in names:
        print(f"{name:8} {there[name]:24.3f} {here[name]:12.3f}")
    print(datetime.now(UTC).isoformat(timespec="seconds"))


if __name__ == "__main__":
    main()
