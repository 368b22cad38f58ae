"""The ``hub`` command: ``migrate``, ``run`` and ``dev`` (what ``make run`` calls)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from datetime import datetime

from hub.commands import subjects
from hub.config import Settings, load_settings
from hub.devenv import use_dev_stack
from hub.errors import HubError
from hub.logs import setup_logging

log = logging.getLogger("hub")


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from hub.store.db import session
    from hub.store.migrate import migrate

    with session(settings.database_url, "migrate") as conn:
        level = migrate(conn, storage=settings.storage)
    print(f"database migrated; storage level: {level}")
    return 0


def _run(settings: Settings, args: argparse.Namespace) -> int:
    from hub.commands.service import serve

    asyncio.run(serve(settings))
    return 0


def _dev(settings: Settings, args: argparse.Namespace) -> int:
    from hub.commands.dev import run_dev

    return run_dev(settings, devices=args.devices, history_days=args.history_days, seed=args.seed)


def _apikey(settings: Settings, args: argparse.Namespace) -> int:
    from hub.commands import apikeys

    if args.apikey_command == "create":
        apikeys.create(
            settings, role=args.role, name=args.name, permissions=tuple(args.permission or ())
        )
    elif args.apikey_command == "list":
        apikeys.list_keys(settings)
    elif args.apikey_command in ("grant", "withdraw"):
        granted = args.apikey_command == "grant"
        if not apikeys.set_permission(settings, args.id, args.permission, granted=granted):
            return 1
    elif not apikeys.revoke(settings, args.id):
        return 1
    return 0


def _dead_letters(settings: Settings, args: argparse.Namespace) -> int:
    import asyncio

    from hub.commands.service import read_storage_level
    from hub.ingest.replay import ReplayFilter, replay
    from hub.ingest.sources import load_sources
    from hub.profiles import load_profiles

    profiles = load_profiles(settings.profiles_dir)
    where = ReplayFilter(
        reasons=args.reason or None, device_id=args.device, start=args.since, end=args.until
    )
    result = asyncio.run(
        replay(
            settings,
            profiles,
            storage=read_storage_level(settings),
            sources=load_sources(settings.sources, set(profiles)),
            where=where,
        )
    )
    still = ", ".join(f"{r} {n}" for r, n in sorted(result.still_refused.items())) or "none"
    print(
        f"{result.examined} dead letter(s) replayed: {result.stored} stored "
        f"({result.readings} readings), still refused: {still}"
    )
    return 0


def _devices(settings: Settings, args: argparse.Namespace) -> int:
    from hub.commands import provision

    return provision.run(settings, args)


def _time(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a UTC offset, e.g. {text}Z")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hub",
        description="Open IoT sensor hub. Settings come from HUB_* environment variables "
        "(see the README).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("migrate", help="apply pending database migrations").set_defaults(
        func=_migrate
    )
    commands.add_parser("run", help="run the ingest and the API").set_defaults(func=_run)
    dev = commands.add_parser(
        "dev",
        help="private PostgreSQL + Mosquitto under .hub/, the hub and a simulated fleet",
    )
    dev.add_argument("--devices", type=int, default=60, help="simulated devices (default 60)")
    dev.add_argument(
        "--history-days",
        type=float,
        default=7.0,
        help="days of the fleet's history replayed before it runs live (default 7; 0: none)",
    )
    dev.add_argument("--seed", type=int, default=1, help="seed of the simulated town")
    dev.add_argument(
        "--scenario",
        help="YAML file of faults for the fleet (default: simulators/scenarios/winter_night.yaml; "
        "'none' for a fleet without faults)",
    )
    dev.set_defaults(func=_dev)
    apikey = commands.add_parser("apikey", help="create, list and revoke API keys")
    apikey_commands = apikey.add_subparsers(dest="apikey_command", required=True, metavar="ACTION")
    create = apikey_commands.add_parser("create", help="create a key and print it (only once)")
    create.add_argument("--role", required=True, choices=["viewer", "operator", "admin", "ingest"])
    create.add_argument("--name", required=True, help="who or what uses the key")
    create.add_argument(
        "--permission",
        action="append",
        choices=["personal"],
        help="also let it read personal devices' own data (operator or admin keys; "
        "docs/privacy.md); repeatable",
    )
    apikey_commands.add_parser("list", help="list keys (never the keys themselves)")
    for verb, text in (("grant", "give a key a permission"), ("withdraw", "take it back")):
        change = apikey_commands.add_parser(verb, help=f"{text} (docs/privacy.md)")
        change.add_argument("id", type=int)
        change.add_argument("permission", choices=["personal"])
    revoke = apikey_commands.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("id", type=int)
    apikey.set_defaults(func=_apikey)
    devices = commands.add_parser("devices", help="provision devices (register + MQTT credentials)")
    device_commands = devices.add_subparsers(
        dest="devices_command", required=True, metavar="ACTION"
    )
    prov = device_commands.add_parser(
        "provision",
        help="register a device (or a CSV of them) and print its MQTT password once",
    )
    prov.add_argument("device_id", nargs="?", help="the device id, also its MQTT username")
    prov.add_argument("--profile", help="device profile, e.g. water_meter")
    prov.add_argument("--lat", type=float)
    prov.add_argument("--lon", type=float)
    prov.add_argument("--district")
    prov.add_argument(
        "--data-class",
        choices=["public", "internal", "personal"],
        help="a data class for this device alone (default: its profile's; docs/privacy.md)",
    )
    prov.add_argument(
        "--dev-eui",
        help="LoRaWAN DevEUI (16 hex digits): the device sends through a network server "
        "and gets no MQTT login",
    )
    prov.add_argument(
        "--external-id", help="the device's id on the network server (TTS end-device id)"
    )
    prov.add_argument(
        "--csv",
        help="CSV with columns device_id,profile[,lat,lon,district,dev_eui,external_id,data_class]",
    )
    prov.add_argument("--passwd-file", help="Mosquitto password file (HUB_MQTT_PASSWD_FILE)")
    prov.add_argument("--acl-file", help="Mosquitto ACL file (HUB_MQTT_ACL_FILE)")
    devices.set_defaults(func=_devices)
    letters = commands.add_parser("dead-letters", help="replay refused messages")
    letter_commands = letters.add_subparsers(
        dest="dead_letters_command", required=True, metavar="ACTION"
    )
    again = letter_commands.add_parser(
        "replay",
        help="decode dead letters again with today's profiles; store what decodes now",
    )
    again.add_argument("--reason", action="append", help="only this reason (repeatable)")
    again.add_argument("--device", help="only this device id")
    again.add_argument("--since", type=_time, help="received at or after (RFC 3339)")
    again.add_argument("--until", type=_time, help="received before (RFC 3339)")
    letters.set_defaults(func=_dead_letters)
    subjects.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.func not in (_dev, _run):
        # `hub apikey create` & co. beside a running `make run` reach its database
        use_dev_stack()
    try:
        settings = load_settings()
    except HubError as exc:
        print(f"hub: configuration error: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_format, settings.log_level)
    try:
        result: int = args.func(settings, args)
        return result
    except HubError as exc:
        print(f"hub: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
