"""``hub devices provision``: register devices and give the MQTT ones credentials
(the password printed once). What is checked and written: :mod:`hub.provisioning`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import psycopg

from hub.config import Settings
from hub.errors import HubError, ProvisionError
from hub.privacy.classes import parse_class, sync_profile_classes
from hub.profiles import load_profiles
from hub.provisioning import (
    DeviceSpec,
    check_spec,
    new_password,
    read_csv,
    set_acl_entries,
    set_passwords,
)
from hub.store.db import session
from hub.store.provisioning import register


def run(settings: Settings, args: argparse.Namespace) -> int:
    """``hub devices provision``: register, write credentials, print the passwords once."""
    passwd = args.passwd_file or settings.mqtt_passwd_file
    acl = args.acl_file or settings.mqtt_acl_file
    if args.csv:
        specs = read_csv(Path(args.csv))
    elif args.device_id and args.profile:
        specs = [
            DeviceSpec(
                args.device_id,
                args.profile,
                args.lat,
                args.lon,
                args.district,
                args.dev_eui.upper() if args.dev_eui else None,
                args.external_id,
                parse_class(args.data_class) if args.data_class else None,
            )
        ]
    else:
        raise HubError("give DEVICE_ID and --profile, or --csv FILE")
    passwords = provision(
        settings,
        specs,
        passwd_file=Path(passwd) if passwd else None,
        acl_file=Path(acl) if acl else None,
    )
    print("device_id,password")
    for device_id, password in passwords.items():
        # A LoRaWAN device sends through its network server: no MQTT password.
        print(f"{device_id},{password or ''}")
    print(
        f"{len(passwords)} device(s) provisioned; passwords are shown only now. "
        "Reload the broker: docker compose kill -s HUP mosquitto",
        file=sys.stderr,
    )
    return 0


def provision(
    settings: Settings,
    specs: list[DeviceSpec],
    *,
    passwd_file: Path | None,
    acl_file: Path | None,
) -> dict[str, str | None]:
    """Register the devices and write the MQTT credentials of those that are not
    LoRaWAN devices; return device -> password (None for a LoRaWAN device)."""
    profiles = load_profiles(settings.profiles_dir)
    seen: set[str] = set()
    for spec in specs:
        check_spec(spec, profiles)
        if spec.device_id in seen:
            raise ProvisionError(f"device {spec.device_id!r} is listed twice")
        seen.add(spec.device_id)
    mqtt_specs = [spec for spec in specs if not spec.lorawan]
    if mqtt_specs and (passwd_file is None or acl_file is None):
        raise HubError(
            "give --passwd-file and --acl-file (or HUB_MQTT_PASSWD_FILE and "
            "HUB_MQTT_ACL_FILE): the broker's password and ACL files"
        )
    for path in (passwd_file, acl_file) if mqtt_specs else ():
        if path is not None and not path.parent.is_dir():
            raise ProvisionError(f"{path}: its folder does not exist")
    try:
        with session(settings.database_url, "provision") as conn:
            sync_profile_classes(conn, profiles)
            register(conn, [vars(spec) for spec in specs])
    except psycopg.errors.UniqueViolation as exc:
        raise ProvisionError(
            f"a DevEUI or external id is already another device's: {exc.diag.message_detail}"
        ) from None
    passwords: dict[str, str | None] = {spec.device_id: None for spec in specs}
    if mqtt_specs and passwd_file is not None and acl_file is not None:
        fresh = {spec.device_id: new_password() for spec in mqtt_specs}
        set_passwords(passwd_file, fresh)
        set_acl_entries(acl_file, mqtt_specs, settings.topic_prefix)
        passwords.update(fresh)
    return passwords
