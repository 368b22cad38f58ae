"""What the LoRaWAN network-server formats share: an uplink, read from The Things
Stack's or ChirpStack's JSON into :class:`Uplink`, becomes one decoded message.

    Uplink --device: DevEUI, then external id (context.devices)--> device and profile
           --or a source rule (context.lorawan.rules)--> profile of a new device
           --profile's decoded: mapping--> readings (+ radio link readings)

Refusals (dead letters, kept whole for replay): ``unknown_device`` (not registered,
and no rule names a profile or auto-registration is off), ``undecoded`` (the network
server sent no decoded payload: no payload codec is set up for the device),
``no_mapping`` (the profile has no ``decoded:`` section), and the usual value
checks. Payload fields the mapping does not name are ignored, and listed in the
item so the writer can count them per device.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from hub.errors import PayloadError
from hub.model import Item, Reading
from hub.model.messages import LorawanInfo
from hub.model.units import UNIT_CONVERSIONS
from hub.payloads.checks import Checks, check_value, check_window, parse_timestamp
from hub.payloads.context import DecodeContext, KnownDevice, ProfileRules
from hub.payloads.topic import DEVICE_ID_RE
from hub.profiles import Decoded, Profile

# Series of a device's radio link, stored when its profile has the metric.
LINK_METRICS = ("lora_rssi", "lora_snr", "lora_gateways", "lora_sf", "lora_fcnt")
MISSED_FRAMES_METRIC = "lora_missed_frames"
_MAX_UNMAPPED = 64  # unmapped field names kept per uplink (a runaway payload stays small)


class Gateway(NamedTuple):
    rssi: float | None
    snr: float | None


@dataclass(frozen=True, slots=True)
class Uplink:
    """One uplink as a network server reports it, whatever its JSON looked like."""

    network: str  # "tts" | "chirpstack"
    time: datetime  # the network server's receive time
    dev_eui: str | None = None  # upper-case hex
    external_id: str | None = None  # TTS end-device id
    name: str | None = None  # ChirpStack device name
    application: str | None = None
    device_profile: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    f_cnt: int | None = None
    f_port: int | None = None
    decoded: Mapping[str, Any] | None = None
    gateways: tuple[Gateway, ...] = ()
    spreading_factor: int | None = None
    extra: Mapping[str, float] = field(default_factory=dict)  # metric -> value (status)


def to_item(uplink: Uplink, payload: bytes, topic: str, context: DecodeContext) -> Item:
    """Match the uplink to its device and map it onto the device's profile."""
    known = _find(uplink, context)
    register = known is None
    if known is not None:
        device_id, profile_name = known.device_id, known.profile
    else:
        device_id = _new_device_id(uplink)
        rule = _profile_rule(uplink, context.rules)
        if rule is None or not context.auto_register:
            why = (
                "no source rule names its profile"
                if rule is None
                else "auto-registration is off (HUB_AUTO_REGISTER_DEVICES)"
            )
            raise PayloadError(
                "unknown_device",
                f"no device with DevEUI {uplink.dev_eui} or id {uplink.external_id!r}, and {why}",
                device_id=device_id,
            )
        profile_name = rule
    profile = context.profiles.get(profile_name)
    if profile is None:
        raise PayloadError(
            "unknown_profile", f"no device profile {profile_name!r}", device_id=device_id
        )
    checks = Checks.of(device_id, profile, uplink.time, context.max_future, context.max_past)
    time = check_window(uplink.time, checks)
    readings, unmapped = _mapped(uplink, profile, checks)
    readings.extend(_link_readings(uplink, profile, device_id, time, checks))
    if not readings:
        raise PayloadError(
            "empty", "the uplink holds no value the profile maps", device_id=device_id
        )
    info = LorawanInfo(
        uplink.dev_eui,
        uplink.external_id,
        uplink.name,
        register,
        uplink.f_cnt,
        MISSED_FRAMES_METRIC in profile.metrics,
        unmapped,
    )
    return Item(
        topic,
        payload,
        time,  # the network server's receive time (readings may carry the payload's own)
        device_id,
        profile.name,
        readings,
        None,
        False,
        info,
        "tts_v3" if uplink.network == "tts" else "chirpstack_v4",
    )


def _find(uplink: Uplink, context: DecodeContext) -> KnownDevice | None:
    devices = context.devices
    if uplink.dev_eui is not None:
        found = devices.by_dev_eui.get(uplink.dev_eui)
        if found is not None:
            return found
    if uplink.external_id is not None:
        return devices.by_external_id.get(uplink.external_id)
    return None


def _new_device_id(uplink: Uplink) -> str:
    """The hub's id for a device it registers: the network server's id when it is
    a valid hub device id, else ``eui-`` and the DevEUI (as TTS names devices)."""
    for candidate in (uplink.external_id, uplink.name):
        if candidate and DEVICE_ID_RE.fullmatch(candidate):
            return candidate
    if uplink.dev_eui:
        return f"eui-{uplink.dev_eui.lower()}"
    raise PayloadError("decode", "the uplink names no device (no DevEUI, no device id)")


def _profile_rule(uplink: Uplink, rules: ProfileRules) -> str | None:
    if uplink.network == "tts":
        return rules.tts_applications.get(uplink.application or "")
    if rules.chirpstack_tag and uplink.tags.get(rules.chirpstack_tag):
        return uplink.tags[rules.chirpstack_tag]
    return rules.chirpstack_device_profiles.get(uplink.device_profile or "")


def flatten(doc: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every leaf of a decoded payload by its dotted path (lists are leaves)."""
    for key, value in doc.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from flatten(value, f"{path}.")
        else:
            yield path, value


def _mapped(
    uplink: Uplink, profile: Profile, checks: Checks
) -> tuple[list[Reading], tuple[str, ...]]:
    readings: list[Reading] = []
    if uplink.extra:  # a status event: values named by metric, no mapping
        for metric, extra in uplink.extra.items():
            found = checks.table.metrics.get(metric)
            if found is not None:
                value = check_value(metric, extra, found, checks)
                readings.append(Reading(checks.device_id, metric, uplink.time, value))
        return readings, ()
    if uplink.decoded is None:
        raise PayloadError(
            "undecoded",
            "the network server sent no decoded payload (set up a payload codec for the "
            "device; the uplink is kept for replay)",
            device_id=checks.device_id,
        )
    mapping = profile.decoded
    if mapping is None:
        raise PayloadError(
            "no_mapping",
            f"profile {profile.name!r} has no decoded: mapping for network-server uplinks",
            device_id=checks.device_id,
        )
    leaves = dict(flatten(uplink.decoded))
    own_time = _own_time(leaves, mapping, checks)
    time = uplink.time if own_time is None else own_time
    for path, wanted in mapping.fields.items():
        if path not in leaves:
            continue  # not every uplink carries every field
        target = checks.table.metrics[wanted.metric]
        raw = _value(
            path, leaves[path], wanted.scale, wanted.unit, wanted.values, target.unit, checks
        )
        value = check_value(wanted.metric, raw, target, checks)
        readings.append(Reading(checks.device_id, wanted.metric, time, value))
    skip = mapping.fields.keys() | ({mapping.time} if mapping.time else set())
    unmapped = tuple(sorted(p for p in leaves if p not in skip))[:_MAX_UNMAPPED]
    return readings, unmapped


def _own_time(leaves: dict[str, Any], mapping: Decoded, checks: Checks) -> datetime | None:
    if mapping.time is None or leaves.get(mapping.time) is None:
        return None
    return check_window(parse_timestamp(leaves[mapping.time], checks), checks)


def _value(
    path: str,
    raw: Any,
    scale: float,
    unit: str | None,
    words: Mapping[str, float | bool] | None,
    target: str,
    checks: Checks,
) -> object:
    if isinstance(raw, str) and words is not None:
        if raw not in words:
            raise checks.fail(
                "wrong_type", f"{path}={raw[:40]!r} is none of {', '.join(sorted(words))}"
            )
        return float(words[raw])
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return raw  # check_value names the wrong type
    value = raw * scale
    if unit is not None and unit != target:
        factor, offset = UNIT_CONVERSIONS[(unit, target)]  # checked when the profile loaded
        value = value * factor + offset
    return value


def _link_readings(
    uplink: Uplink, profile: Profile, device_id: str, time: datetime, checks: Checks
) -> Iterator[Reading]:
    metrics = checks.table.metrics
    values: dict[str, float | None] = {}
    if uplink.gateways:
        best = max(
            uplink.gateways,
            key=lambda g: (
                -math.inf if g.snr is None else g.snr,
                -math.inf if g.rssi is None else g.rssi,
            ),
        )
        values["lora_rssi"] = best.rssi
        values["lora_snr"] = best.snr
        values["lora_gateways"] = float(len(uplink.gateways))
    if uplink.spreading_factor:
        values["lora_sf"] = float(uplink.spreading_factor)
    if uplink.f_cnt is not None and not uplink.extra:
        values["lora_fcnt"] = float(uplink.f_cnt)
    for metric, value in values.items():
        spec = metrics.get(metric)
        if spec is not None and value is not None:
            yield Reading(device_id, metric, time, check_value(metric, value, spec, checks))


def hex_eui(value: object) -> str | None:
    """A DevEUI as 16 upper-case hex digits, or None when absent or malformed."""
    if not isinstance(value, str):
        return None
    eui = value.replace("-", "").replace(":", "").upper()
    if len(eui) != 16 or any(c not in "0123456789ABCDEF" for c in eui):
        return None
    return eui


def ns_time(value: object, name: str) -> datetime:
    """A network server's RFC 3339 time (nanoseconds are cut to microseconds)."""
    if not isinstance(value, str):
        raise PayloadError("bad_timestamp", f"the uplink has no {name} time")
    try:
        time = datetime.fromisoformat(value)
    except ValueError:
        raise PayloadError(
            "bad_timestamp", f"{name} is not an RFC 3339 time: {value[:40]!r}"
        ) from None
    if time.utcoffset() is None:
        raise PayloadError("bad_timestamp", f"{name} has no UTC offset: {value[:40]!r}")
    return time.astimezone(UTC)


def number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None
