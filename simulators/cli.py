"""Command line of the simulators: ``python -m simulators {fleet,backfill,devices,districts,sample,faults}``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from hub.errors import ProfileError
from hub.profiles import Profile, load_profiles
from simulators.faults import (
    FAULT_KINDS,
    PHYSICAL_FAULTS,
    Fault,
    FaultError,
    load_scenario,
    parse_duration,
    parse_fault,
    resolve_faults,
)
from simulators.fleet import DeviceSpec, build_fleet, fleet_csv, fleet_geojson, fleet_json
from simulators.stream import fleet_messages
from simulators.town import DEFAULT_LAT, DEFAULT_LON

_REPO_PROFILES = Path(__file__).resolve().parent.parent / "device_profiles"
PER_DEVICE_LIMIT = 200  # above this many devices, "auto" shares connections

_FAULT_HELP = {
    "lamp_outage": "lamp dark while the controller switches it on (power ~0 W at night)",
    "day_burner": "lamp lit around the clock",
    "cycling": "lamp goes out and restrikes every period_s/2 (default period_s=600)",
    "leak": "steady extra flow, also at night (flow_lph=12)",
    "burst": "very high flow (flow_lph=4500)",
    "backflow": "negative flow, register runs back (flow_lph=60)",
    "stuck": "one metric freezes at its value when the fault starts (metric=first gauge)",
    "spikes": "a metric jumps by factor (8) in a share of reports (rate=0.25, metric=)",
    "garbage": "payloads that are not valid JSON (rate=1.0)",
    "wrong_units": "SenML records with units the profile cannot take",
    "duplicates": "every message sent twice (rate=1.0)",
    "out_of_order": "pairs of messages swapped",
    "late": "messages held back by delay (default 1h) and sent with their old time",
    "offline": "device disappears: last will 'offline', no telemetry, 'online' when back",
}


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _datetime(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a UTC offset, e.g. {text}Z")
    return value.astimezone(UTC)


def _seconds(text: str) -> float:
    try:
        return parse_duration(text)
    except FaultError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _mix(text: str) -> dict[str, float]:
    shares: dict[str, float] = {}
    for item in text.split(","):
        name, sep, share = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"expected profile=share, got {item!r}")
        shares[name.strip()] = float(share)
    return shares


def _fleet_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("fleet")
    g.add_argument("--devices", type=int, default=30, help="number of devices (default 30)")
    g.add_argument("--seed", type=int, default=1, help="seed of layout and behaviour (default 1)")
    g.add_argument(
        "--lat", type=float, default=DEFAULT_LAT, help=f"town centre latitude ({DEFAULT_LAT})"
    )
    g.add_argument(
        "--lon", type=float, default=DEFAULT_LON, help=f"town centre longitude ({DEFAULT_LON})"
    )
    g.add_argument("--mix", type=_mix, help="profile shares, e.g. street_light=0.6,water_meter=0.4")
    g.add_argument(
        "--profiles-dir",
        type=Path,
        default=Path(_env("HUB_PROFILES_DIR", str(_REPO_PROFILES))),
        help="folder of device profiles (HUB_PROFILES_DIR, default device_profiles/)",
    )


def _run_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("messages")
    g.add_argument("--prefix", default=_env("HUB_TOPIC_PREFIX", "city"), help="topic prefix (city)")
    g.add_argument(
        "--interval",
        type=_seconds,
        help="report interval for every device (default: the profile's)",
    )
    g.add_argument(
        "--timezone",
        default=_env("HUB_TIMEZONE", "Europe/Oslo"),
        help="local time zone (Europe/Oslo)",
    )
    g.add_argument("--fault", action="append", default=[], metavar="KIND[:TARGET[:K=V,...]]",
                   help="inject a fault; repeatable; see the 'faults' command")  # fmt: skip
    g.add_argument("--scenario", type=Path, action="append", default=[], help="YAML file of faults")


def _mqtt_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("broker")
    g.add_argument("--mqtt-url", default=_env("HUB_MQTT_URL", "mqtt://127.0.0.1:1883"),
                   help="broker URL (HUB_MQTT_URL, default mqtt://127.0.0.1:1883)")  # fmt: skip
    g.add_argument("--quiet", action="store_true", help="no progress display")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulators",
        description="Simulated street lights, water meters and air-quality monitors for the sensor hub.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    fleet = sub.add_parser("fleet", help="publish a live fleet (real time or sped up)")
    _fleet_options(fleet)
    _run_options(fleet)
    _mqtt_options(fleet)
    fleet.add_argument(
        "--speedup", type=float, default=1.0, help="simulated seconds per wall second (1)"
    )
    fleet.add_argument(
        "--duration", type=_seconds, help="stop after this long (wall time), e.g. 90, 10m"
    )
    fleet.add_argument(
        "--start",
        type=_datetime,
        help="simulated start time (default: now, or in the past when sped up)",
    )
    fleet.add_argument("--connections", default="auto",
                       help="'per-device' (each has a last will), 'shared' or a number of shared "
                            f"connections; auto = per-device up to {PER_DEVICE_LIMIT} devices")  # fmt: skip

    backfill = sub.add_parser("backfill", help="publish weeks of history as fast as possible")
    _fleet_options(backfill)
    _run_options(backfill)
    _mqtt_options(backfill)
    backfill.add_argument("--days", type=float, default=14.0, help="days of history (14)")
    backfill.add_argument("--end", type=_datetime, help="end of the history (default: now)")
    backfill.add_argument(
        "--workers", type=int, default=2, help="publishing processes, one connection each (2)"
    )
    backfill.add_argument("--with-status", action="store_true", help="also publish status messages")

    devices = sub.add_parser(
        "devices", help="print the fleet layout (id, profile, position, district)"
    )
    _fleet_options(devices)
    devices.add_argument("--format", choices=("csv", "json", "geojson"), default="csv")

    districts = sub.add_parser(
        "districts",
        help="print the town's districts as GeoJSON polygons (for HUB_MAP_DISTRICTS)",
    )
    _fleet_options(districts)
    sample = sub.add_parser(
        "sample", help="print the messages of a stretch of time as JSON lines, no broker"
    )
    _fleet_options(sample)
    _run_options(sample)
    sample.add_argument("--start", type=_datetime, help="start (default: now minus --hours)")
    sample.add_argument("--hours", type=float, default=1.0, help="length of the stretch (1)")
    sample.add_argument("--device", action="append", default=[], help="only these device ids")

    sub.add_parser("faults", help="list the fault kinds and their parameters")

    lora = sub.add_parser(
        "lorawan",
        help="send a stretch of time as a LoRaWAN network server would (ChirpStack or TTS)",
    )
    _fleet_options(lora)
    g = lora.add_argument_group("network server")
    g.add_argument("--network", choices=("chirpstack", "tts"), default="chirpstack")
    g.add_argument("--via", choices=("mqtt", "webhook"), default="mqtt",
                   help="publish on a broker, or post to the hub's webhook endpoint")  # fmt: skip
    g.add_argument("--mqtt-url", default=_env("HUB_MQTT_URL", "mqtt://127.0.0.1:1883"),
                   help="broker to publish on (--via mqtt)")  # fmt: skip
    g.add_argument("--hub-url", default="http://127.0.0.1:8000", help="hub (--via webhook)")
    g.add_argument("--key", default="", help="an ingest API key (--via webhook)")
    g.add_argument("--application", default="town",
                   help="application name (TTS: <application>-<profile>)")  # fmt: skip
    g.add_argument("--hours", type=float, default=1.0, help="the last HOURS of readings (1)")
    g.add_argument("--live", type=_seconds, metavar="DURATION",
                   help="instead: run live from now for DURATION (e.g. 1h), each uplink sent "
                   "when it is due")  # fmt: skip
    g.add_argument("--speedup", type=float, default=1.0, help="with --live: time runs faster")
    g.add_argument("--interval", type=_seconds, help="report interval (default: the profile's)")
    g.add_argument("--loss", type=float, default=0.03, help="share of frames lost on air (0.03)")
    g.add_argument("--undecoded", type=float, default=0.02,
                   help="share of uplinks without a decoded payload (0.02)")  # fmt: skip
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.command == "faults":
        for kind in sorted(FAULT_KINDS):
            models = PHYSICAL_FAULTS.get(kind)
            scope = ", ".join(sorted(models)) if models else "any device"
            print(f"{kind:13} {_FAULT_HELP[kind]}  [{scope}]")
        return 0
    try:
        profiles = load_profiles(args.profiles_dir)
        fleet = build_fleet(
            profiles, args.devices, seed=args.seed, lat=args.lat, lon=args.lon, mix=args.mix
        )
        faults = _faults(args) if hasattr(args, "fault") else []
    except (ProfileError, FaultError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.command == "devices":
        return _devices(fleet, args.format)
    if args.command == "districts":
        from simulators.districts import districts_bytes

        points = [(d.lat, d.lon, d.district) for d in fleet]
        body = districts_bytes(points, seed=args.seed, lat=args.lat, lon=args.lon)
        sys.stdout.write(body.decode() + "\n")
        return 0
    if args.command == "sample":
        return _sample(args, fleet, profiles, faults)
    if args.command == "lorawan":
        return _lorawan(args, fleet, profiles)
    from simulators.publisher import PublishError
    from simulators.runner import BackfillJob, run_backfill, run_fleet

    try:
        if args.command == "fleet":
            per_device, connections = _connections(args.connections, len(fleet))
            return run_fleet(
                url=args.mqtt_url, prefix=args.prefix, fleet=fleet, profiles=profiles,
                seed=args.seed, speedup=args.speedup, duration_s=args.duration, start=args.start,
                interval_s=args.interval, faults=faults, timezone=args.timezone,
                per_device=per_device, connections=connections, quiet=args.quiet,
            )  # fmt: skip
        end = args.end or datetime.now(UTC).replace(microsecond=0)
        job = BackfillJob(
            url=args.mqtt_url, prefix=args.prefix, profiles_dir=str(args.profiles_dir),
            devices=args.devices, seed=args.seed, lat=args.lat, lon=args.lon, mix=args.mix,
            start=end - timedelta(days=args.days), end=end, interval_s=args.interval,
            faults=tuple(faults), timezone=args.timezone, status=args.with_status,
        )  # fmt: skip
        resolve_faults(faults, fleet, start=job.start.timestamp(), seed=args.seed)  # fail early
        return run_backfill(job, workers=args.workers, quiet=args.quiet)
    except (PublishError, FaultError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _lorawan(
    args: argparse.Namespace, fleet: Sequence[DeviceSpec], profiles: dict[str, Profile]
) -> int:
    from simulators.lorawan import uplinks
    from simulators.lorawan_send import paced, post, publish

    now = datetime.now(UTC).replace(microsecond=0)
    start, end = (
        (now, now + timedelta(seconds=args.live))
        if args.live
        else (now - timedelta(hours=args.hours), now)
    )
    stream = uplinks(
        fleet, profiles, start, end, network=args.network,
        seed=args.seed, interval_s=args.interval, application=args.application,
        loss=args.loss, undecoded=args.undecoded,
    )  # fmt: skip
    if args.live:
        stream = paced(stream, start, args.speedup)
    if args.via == "mqtt":
        sent = publish(stream, args.mqtt_url)
        print(f"{sent} {args.network} uplinks published on {args.mqtt_url}", file=sys.stderr)
        return 0
    if not args.key:
        print("error: --via webhook needs --key (an ingest API key)", file=sys.stderr)
        return 2
    statuses = post(stream, args.hub_url, args.key, network=args.network)
    print(f"{args.network} uplinks posted, answers by status: {statuses}", file=sys.stderr)
    return 0


def _faults(args: argparse.Namespace) -> list[Fault]:
    faults = [f for path in args.scenario for f in load_scenario(path)]
    faults += [parse_fault(text) for text in args.fault]
    return faults


def _connections(value: str, devices: int) -> tuple[bool, int]:
    if value == "per-device":
        return True, 0
    if value == "shared":
        return False, 1
    if value == "auto":
        return (True, 0) if devices <= PER_DEVICE_LIMIT else (False, 2)
    if value.isdigit() and int(value) > 0:
        return False, int(value)
    raise ValueError(f"--connections: expected per-device, shared, auto or a number, got {value!r}")


def _devices(fleet: Sequence[DeviceSpec], fmt: str) -> int:
    if fmt == "csv":
        sys.stdout.write(fleet_csv(fleet))
    elif fmt == "json":
        sys.stdout.write(fleet_json(fleet).decode() + "\n")
    else:
        sys.stdout.write(fleet_geojson(fleet).decode() + "\n")
    return 0


def _sample(
    args: argparse.Namespace,
    fleet: Sequence[DeviceSpec],
    profiles: dict[str, Profile],
    faults: Sequence[Fault],
) -> int:
    if args.device:
        unknown = set(args.device) - {d.device_id for d in fleet}
        if unknown:
            print(f"error: no device {sorted(unknown)[0]!r} in the fleet", file=sys.stderr)
            return 2
    start = args.start or datetime.now(UTC).replace(microsecond=0) - timedelta(hours=args.hours)
    end = start + timedelta(hours=args.hours)
    wanted = set(args.device)
    try:
        messages = fleet_messages(
            fleet, profiles, start, end, seed=args.seed, faults=faults, interval_s=args.interval,
            prefix=args.prefix, timezone=args.timezone,
        )  # fmt: skip
        for m in messages:
            if wanted and m.device_id not in wanted:
                continue
            line = {
                "sent_at": m.sent_at.isoformat().replace("+00:00", "Z"),
                "topic": m.topic,
                "payload": m.payload.decode("utf-8", "backslashreplace"),
                "retained": m.retained,
            }
            if m.fault:
                line["fault"] = m.fault
            sys.stdout.write(orjson.dumps(line).decode() + "\n")
    except FaultError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        pass
    return 0
