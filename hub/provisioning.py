"""Device provisioning: what a device to provision is, read from the command line
or a CSV file, and its MQTT credentials in Mosquitto's files.

``hub devices provision`` (``hub.commands.provision``) registers the device (profile, position, district),
writes its password to Mosquitto's password file (PBKDF2-SHA512, the ``$7$``
format of ``mosquitto_passwd``) and its ACL entry (it may publish only on its own
telemetry and status topics), and prints the password once. Mosquitto reads both
files again on SIGHUP (``docker compose kill -s HUP mosquitto``).

A LoRaWAN device (one given a ``--dev-eui``, and optionally the network server's
``--external-id``) sends through its network server, never to the broker itself:
it is registered with its identities and gets no MQTT login.

The files are rewritten in place, so their owner and mode (set so that Mosquitto
can read them) stay as they are.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from hub.errors import ProvisionError
from hub.payloads import DEVICE_ID_RE
from hub.privacy.classes import DataClass, parse_class

_ITERATIONS = 101  # what mosquitto_passwd 2.0 writes
_DEV_EUI_RE = re.compile(r"[0-9A-Fa-f]{16}")
_EXTERNAL_ID_RE = re.compile(r"[A-Za-z0-9_.:@-]{1,128}")
MANAGED_MARKER = "# --- devices provisioned by `hub devices provision`; edit with it ---"


@dataclass(frozen=True)
class DeviceSpec:
    device_id: str
    profile: str
    lat: float | None = None
    lon: float | None = None
    district: str | None = None
    dev_eui: str | None = None
    external_id: str | None = None
    # A data class for this device alone (docs/privacy.md); None follows the profile.
    data_class: DataClass | None = None

    @property
    def lorawan(self) -> bool:
        """Sends through a LoRaWAN network server (no MQTT login of its own)."""
        return self.dev_eui is not None


def new_password() -> str:
    return secrets.token_urlsafe(18)


def password_hash(password: str, *, salt: bytes | None = None) -> str:
    """A Mosquitto password-file hash (``$7$``: PBKDF2-HMAC-SHA512, 101 rounds)."""
    salt = salt if salt is not None else secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, _ITERATIONS)
    return f"$7${_ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def check_spec(spec: DeviceSpec, profiles: Iterable[str]) -> None:
    if not DEVICE_ID_RE.fullmatch(spec.device_id):
        raise ProvisionError(
            f"device id {spec.device_id!r}: 1-64 characters of A-Z a-z 0-9 _ . : - "
            "(it is the MQTT username and a topic level)"
        )
    known = sorted(profiles)
    if spec.profile not in known:
        raise ProvisionError(f"unknown profile {spec.profile!r} (known: {', '.join(known)})")
    if (spec.lat is None) != (spec.lon is None):
        raise ProvisionError(f"{spec.device_id}: give both --lat and --lon, or neither")
    if spec.lat is not None and not -90 <= spec.lat <= 90:
        raise ProvisionError(f"{spec.device_id}: latitude {spec.lat} outside -90..90")
    if spec.lon is not None and not -180 <= spec.lon <= 180:
        raise ProvisionError(f"{spec.device_id}: longitude {spec.lon} outside -180..180")
    if spec.dev_eui is not None and not _DEV_EUI_RE.fullmatch(spec.dev_eui):
        raise ProvisionError(f"{spec.device_id}: DevEUI {spec.dev_eui!r} is not 16 hex digits")
    if spec.external_id is not None and not _EXTERNAL_ID_RE.fullmatch(spec.external_id):
        raise ProvisionError(
            f"{spec.device_id}: external id must be 1-128 characters of A-Z a-z 0-9 _ . : @ -"
        )


def _rewrite(path: Path, text: str) -> None:
    """Replace the file's content, keeping its owner and mode (Mosquitto reads it)."""
    with path.open("r+" if path.exists() else "w") as out:
        out.seek(0)
        out.write(text)
        out.truncate()


def set_passwords(path: Path, passwords: dict[str, str]) -> None:
    """Add or replace users in a Mosquitto password file."""
    lines = path.read_text().splitlines() if path.exists() else []
    kept = [line for line in lines if line.split(":", 1)[0] not in passwords]
    added = [f"{user}:{password_hash(pw)}" for user, pw in passwords.items()]
    _rewrite(path, "\n".join([*kept, *added]) + "\n")


def set_acl_entries(path: Path, devices: list[DeviceSpec], prefix: str) -> None:
    """Give each device, in the managed part of the ACL file, write access to its
    own telemetry and status topics (and nothing else)."""
    text = path.read_text() if path.exists() else ""
    head, _, managed = text.partition(MANAGED_MARKER)
    entries: dict[str, str] = {}
    for block in managed.strip().split("\n\n"):
        first = block.strip().splitlines()[0] if block.strip() else ""
        if first.startswith("user "):
            entries[first.split(" ", 1)[1]] = block.strip()
    for device in devices:
        base = f"{prefix}/{device.profile}/{device.device_id}"
        entries[device.device_id] = (
            f"user {device.device_id}\ntopic write {base}/telemetry\ntopic write {base}/status"
        )
    body = "\n\n".join(entries[user] for user in sorted(entries))
    _rewrite(path, f"{head.rstrip()}\n\n{MANAGED_MARKER}\n\n{body}\n")


def read_csv(path: Path) -> list[DeviceSpec]:
    """Devices from a CSV file with a header: device_id, profile[, lat, lon, district,
    dev_eui, external_id, data_class]."""
    with path.open(newline="") as source:
        reader = csv.DictReader(source)
        missing = {"device_id", "profile"} - set(reader.fieldnames or ())
        if missing:
            raise ProvisionError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        specs = []
        for line, row in enumerate(reader, start=2):
            try:
                lat = float(row["lat"]) if row.get("lat") else None
                lon = float(row["lon"]) if row.get("lon") else None
            except ValueError:
                raise ProvisionError(f"{path}:{line}: lat and lon must be numbers") from None
            try:
                text = (row.get("data_class") or "").strip()
                data_class = parse_class(text) if text else None
            except ValueError as exc:
                raise ProvisionError(f"{path}:{line}: {exc}") from None
            specs.append(
                DeviceSpec(
                    row["device_id"].strip(),
                    row["profile"].strip(),
                    lat,
                    lon,
                    (row.get("district") or "").strip() or None,
                    (row.get("dev_eui") or "").strip().upper() or None,
                    (row.get("external_id") or "").strip() or None,
                    data_class,
                )
            )
    return specs
