"""Fault injection: what can go wrong, for which devices, and when.

A :class:`Fault` is what the user asked for (by ``--fault`` or a scenario file);
:func:`resolve_faults` turns it into :class:`FaultWindow` objects per device, with
absolute times, choosing devices deterministically from the seed.

Physical faults change what a device measures; transport faults change the
messages it sends. ``docs/simulators.md`` lists each kind and what it produces.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from simulators.fleet import DeviceSpec

# kind -> the device models it applies to (None: any).
PHYSICAL_FAULTS: dict[str, frozenset[str] | None] = {
    "lamp_outage": frozenset({"street_light"}),
    "day_burner": frozenset({"street_light"}),
    "cycling": frozenset({"street_light"}),
    "leak": frozenset({"water_meter"}),
    "burst": frozenset({"water_meter"}),
    "backflow": frozenset({"water_meter"}),
    "stuck": None,
    "spikes": None,
}
TRANSPORT_FAULTS = frozenset(
    {"garbage", "wrong_units", "duplicates", "out_of_order", "late", "offline"}
)
FAULT_KINDS = frozenset(PHYSICAL_FAULTS) | TRANSPORT_FAULTS

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d|w)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86_400, "w": 604_800}
ParamValue = float | str


class FaultError(ValueError):
    """A fault flag or scenario file is wrong; the message says where."""


@dataclass(frozen=True)
class Fault:
    """A requested fault. Devices are picked by id, or ``count``/``share`` at random."""

    kind: str
    devices: tuple[str, ...] = ()
    count: int | None = None
    share: float | None = None
    profile: str | None = None
    start_s: float = 0.0
    duration_s: float | None = None
    params: Mapping[str, ParamValue] = field(default_factory=dict)


@dataclass(frozen=True)
class FaultWindow:
    """A fault as it applies to one device: absolute epoch-second bounds."""

    kind: str
    start: float
    end: float
    params: Mapping[str, ParamValue] = field(default_factory=dict)

    def active(self, t: float) -> bool:
        return self.start <= t < self.end

    def number(self, name: str, default: float) -> float:
        return float(self.params.get(name, default))


def parse_duration(text: str | float | int) -> float:
    """Seconds from ``90``, ``90s``, ``15m``, ``2h``, ``3d`` or ``1w``."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return float(text)
    match = _DURATION_RE.match(str(text))
    if not match:
        raise FaultError(f"not a duration: {text!r} (use e.g. 90s, 15m, 2h, 3d)")
    return float(match.group(1)) * _UNIT_S[match.group(2) or "s"]


def parse_fault(text: str) -> Fault:
    """Read ``KIND[:TARGET[:KEY=VALUE,...]]`` as given to ``--fault``.

    TARGET is a device count (``3``), a share (``5%``) or device ids joined by
    ``+`` (``wm-0003+wm-0007``); without it one device is chosen. The keys
    ``start``, ``duration`` and ``profile`` are understood; the rest are parameters
    of the fault kind.
    """
    kind, _, rest = text.partition(":")
    target, _, options = rest.partition(":")
    data: dict[str, Any] = {"kind": kind.strip()}
    target = target.strip()
    if target.endswith("%"):
        data["share"] = target
    elif target.isdigit():
        data["count"] = int(target)
    elif target:
        data["devices"] = [d for d in target.split("+") if d]
    params: dict[str, Any] = {}
    for item in filter(None, (o.strip() for o in options.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise FaultError(f"--fault {text}: expected key=value, got {item!r}")
        if key in ("start", "duration", "profile"):
            data[key] = value
        else:
            params[key] = value
    data["params"] = params
    return fault_from_mapping(data, where=f"--fault {text}")


def fault_from_mapping(data: Mapping[str, Any], *, where: str) -> Fault:
    allowed = {"kind", "devices", "count", "share", "profile", "start", "duration", "params"}
    unknown = set(data) - allowed
    if unknown:
        raise FaultError(
            f"{where}: unknown key {sorted(unknown)[0]!r} (allowed: {', '.join(sorted(allowed))})"
        )
    kind = data.get("kind")
    if kind not in FAULT_KINDS:
        raise FaultError(
            f"{where}: unknown fault kind {kind!r} (known: {', '.join(sorted(FAULT_KINDS))})"
        )
    share = data.get("share")
    if isinstance(share, str):
        try:
            share = float(share.rstrip("%")) / (100 if share.endswith("%") else 1)
        except ValueError:
            raise FaultError(f"{where}: share must be a number or a percentage") from None
    if share is not None and not 0 < float(share) <= 1:
        raise FaultError(f"{where}: share must be above 0 and at most 100%")
    count = data.get("count")
    if count is not None and (not isinstance(count, int) or count < 1):
        raise FaultError(f"{where}: count must be a whole number of at least 1")
    devices = data.get("devices") or ()
    if isinstance(devices, str) or not all(isinstance(d, str) for d in devices):
        raise FaultError(f"{where}: devices must be a list of device ids")
    params = data.get("params") or {}
    if not isinstance(params, Mapping):
        raise FaultError(f"{where}: params must be a mapping")
    try:
        start = parse_duration(data.get("start", 0))
        duration = parse_duration(data["duration"]) if data.get("duration") is not None else None
    except FaultError as exc:
        raise FaultError(f"{where}: {exc}") from None
    return Fault(
        kind=kind,
        devices=tuple(devices),
        count=count,
        share=None if share is None else float(share),
        profile=data.get("profile"),
        start_s=start,
        duration_s=duration,
        params={str(k): _param(v) for k, v in params.items()},
    )


def _param(value: object) -> ParamValue:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value)
    try:
        return (
            parse_duration(text)
            if text[-1:].isalpha() and _DURATION_RE.match(text)
            else float(text)
        )
    except ValueError:
        return text


def load_scenario(path: Path) -> list[Fault]:
    """Read a scenario YAML file: ``faults:`` followed by a list of faults."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise FaultError(f"{path}: cannot read scenario: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("faults"), list):
        raise FaultError(f"{path}: a scenario is a mapping with a 'faults:' list")
    extra = set(data) - {"faults", "description"}
    if extra:
        raise FaultError(f"{path}: unknown key {sorted(extra)[0]!r}")
    faults = []
    for index, item in enumerate(data["faults"]):
        if not isinstance(item, dict):
            raise FaultError(f"{path}: faults.{index} must be a mapping")
        faults.append(fault_from_mapping(item, where=f"{path}: faults.{index}"))
    return faults


def resolve_faults(
    faults: Sequence[Fault], fleet: Sequence[DeviceSpec], *, start: float, seed: int
) -> dict[str, list[FaultWindow]]:
    """Windows per device id. Raises FaultError for an id or profile not in the fleet."""
    by_id = {d.device_id: d for d in fleet}
    windows: dict[str, list[FaultWindow]] = {}
    for index, fault in enumerate(faults):
        models = PHYSICAL_FAULTS.get(fault.kind)
        candidates = [
            d
            for d in fleet
            if (models is None or d.model in models)
            and (fault.profile is None or d.profile == fault.profile)
        ]
        if fault.devices:
            chosen = []
            for device_id in fault.devices:
                if device_id not in by_id:
                    raise FaultError(f"fault {fault.kind}: no device {device_id!r} in the fleet")
                if by_id[device_id] not in candidates:
                    raise FaultError(f"fault {fault.kind} does not apply to {device_id}")
                chosen.append(by_id[device_id])
        else:
            if not candidates:
                raise FaultError(f"fault {fault.kind}: no device in the fleet it applies to")
            wanted = fault.count or 1
            if fault.share is not None:
                wanted = max(1, math.ceil(fault.share * len(candidates)))
            rng = random.Random(f"fault:{seed}:{index}:{fault.kind}")
            chosen = rng.sample(candidates, min(wanted, len(candidates)))
        begin = start + fault.start_s
        end = math.inf if fault.duration_s is None else begin + fault.duration_s
        for device in chosen:
            windows.setdefault(device.device_id, []).append(
                FaultWindow(fault.kind, begin, end, dict(fault.params))
            )
    return windows
