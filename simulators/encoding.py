"""Turn metric values into the payload bytes a device would send.

The formats are those of ``docs/payloads.md``: a flat JSON object, an object
with ``metrics``, or a SenML pack. Also the broken payloads of the ``garbage``
and ``wrong_units`` faults.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import UTC, datetime

import orjson

from hub.profiles import Profile

# A wrong but plausible-looking unit for each unit the shipped profiles use; none of
# them can be converted, so the hub refuses the message as bad_unit.
WRONG_UNITS = {
    "W": "VA",
    "kWh": "J",
    "Wh": "J",
    "V": "A",
    "%": "/",
    "m3": "kg",
    "l/h": "gal/min",
    "Cel": "degF",
    "%EL": "V",
    "%RH": "g/m3",
    "ug/m3": "ppb",
}


def format_ts(t: int, style: str) -> str | int:
    if style == "epoch_ms":
        return t * 1000
    if style == "epoch_s":
        return t
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def encode(
    values: Mapping[str, float | bool],
    *,
    t: int,
    device_id: str,
    profile: Profile,
    payload_format: str,
    ts_style: str,
    units: Mapping[str, str] | None = None,
) -> bytes:
    """Encode one report. ``units`` overrides SenML units (for the wrong_units fault)."""
    if payload_format == "senml":
        return orjson.dumps(_senml(values, t=t, device_id=device_id, profile=profile, units=units))
    ts = format_ts(t, ts_style)
    if payload_format == "metrics":
        return orjson.dumps({"ts": ts, "metrics": dict(values)})
    return orjson.dumps({"ts": ts, **values})


def _senml(
    values: Mapping[str, float | bool],
    *,
    t: int,
    device_id: str,
    profile: Profile,
    units: Mapping[str, str] | None,
) -> list[dict[str, object]]:
    records: list[dict[str, object]] = []
    for name, value in values.items():
        record: dict[str, object] = {"n": name}
        if isinstance(value, bool):
            record["vb"] = value
        else:
            record["u"] = (units or {}).get(name, profile.metrics[name].unit)
            record["v"] = value
        records.append(record)
    if records:
        records[0] = {"bn": f"{device_id}:", "bt": t, **records[0]}
    return records


def encode_wrong_units(
    values: Mapping[str, float | bool], *, t: int, device_id: str, profile: Profile
) -> bytes:
    """A SenML pack whose numeric records carry units the profile cannot accept."""
    units = {
        name: WRONG_UNITS.get(profile.metrics[name].unit, "unit?")
        for name, value in values.items()
        if not isinstance(value, bool)
    }
    return encode(
        values,
        t=t,
        device_id=device_id,
        profile=profile,
        payload_format="senml",
        ts_style="epoch_s",
        units=units,
    )


def garbage(good: bytes, rng: random.Random) -> bytes:
    """Bytes no decoder accepts: a cut-off payload, line noise or a modem's chatter."""
    choice = rng.randrange(4)
    if choice == 0 and len(good) > 4:
        return good[: rng.randrange(1, len(good) - 1)]  # lost the closing bracket
    if choice == 1:
        return b"\xff" + bytes(rng.randrange(256) for _ in range(rng.randrange(4, 40)))
    if choice == 2:
        return b"AT+CSQ\r\n+CSQ: 7,99\r\nERROR\r\n"
    return b"{" + good[1:].replace(b":", b"=", 1)
