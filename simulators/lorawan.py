"""The simulated fleet as LoRaWAN devices behind a network server. No I/O.

Each device's readings (the same as on MQTT, from :func:`simulators.stream.
fleet_messages`) become the decoded payload its real codec would give (the
profile's ``decoded:`` mapping, inverted: field names, scale and unit), wrapped
as The Things Stack v3 sends an uplink (``ApplicationUp``) or as ChirpStack v4
publishes an ``UplinkEvent`` with its JSON marshaler. Every device is heard by
one to three gateways with its own radio conditions (RSSI, SNR, spreading
factor); some frames are lost on the air (the frame counter skips), and some
uplinks come without a decoded payload (no codec set up on the network server).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import orjson

from hub.model.units import UNIT_CONVERSIONS
from hub.profiles import Profile
from simulators.fleet import DeviceSpec
from simulators.stream import fleet_messages

Network = Literal["tts", "chirpstack"]
APPLICATION_ID = "17c82e96-be03-4f38-aef3-f83d48582d97"  # a ChirpStack application (UUID)


@dataclass(frozen=True, slots=True)
class Uplink:
    """One uplink as the network server hands it on."""

    sent_at: datetime
    device_id: str
    dev_eui: str
    topic: str  # where the network server's MQTT integration publishes it
    payload: bytes
    f_cnt: int
    decoded: bool


def dev_eui(device_id: str) -> str:
    """A stable DevEUI for a simulated device (upper-case hex)."""
    return "70B3D5" + hashlib.sha256(device_id.encode()).hexdigest()[:10].upper()


def encode_decoded(values: Mapping[str, float], profile: Profile) -> dict[str, Any]:
    """The payload a codec mapped by ``profile.decoded`` would have given for these
    metric values (fields nested by their dotted paths)."""
    mapping = profile.decoded
    if mapping is None:
        return {}
    out: dict[str, Any] = {}
    for path, spec in mapping.fields.items():
        if spec.metric not in values:
            continue
        value: Any = values[spec.metric]
        unit = profile.metrics[spec.metric].unit
        if spec.values is not None:
            value = next((w for w, n in spec.values.items() if float(n) == float(value)), None)
            if value is None:
                continue
        else:
            if spec.unit is not None and spec.unit != unit:
                factor, offset = UNIT_CONVERSIONS[(spec.unit, unit)]
                value = (value - offset) / factor
            value = round(value / spec.scale, 6)
        node = out
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


@dataclass
class _Radio:
    gateways: list[tuple[str, float, float]]  # (gateway id, mean RSSI, mean SNR)
    sf: int


def _radio(device_id: str, seed: int) -> _Radio:
    rng = random.Random(f"{seed}:{device_id}:radio")
    snr = rng.uniform(-14.0, 9.0)
    sf = 7 if snr > 0 else 9 if snr > -7 else 12
    count = rng.choice((1, 1, 2, 2, 3))
    gateways = [
        (f"0016c001f153a1{n:02x}", rng.uniform(-118, -70), snr - rng.uniform(0, 6) * n)
        for n in range(count)
    ]
    return _Radio(gateways, sf)


def uplinks(
    fleet: Sequence[DeviceSpec],
    profiles: Mapping[str, Profile],
    start: datetime,
    end: datetime,
    *,
    network: Network,
    seed: int = 0,
    interval_s: float | None = None,
    application: str = "town",
    loss: float = 0.03,
    undecoded: float = 0.02,
    timezone: str = "Europe/Oslo",
) -> Iterator[Uplink]:
    """The fleet's uplinks in ``[start, end)``, in send order."""
    flat = [dataclasses.replace(d, payload_format="flat", ts_style="rfc3339") for d in fleet]
    rng = random.Random(f"{seed}:lorawan")
    counters: dict[str, int] = {}
    radios = {d.device_id: _radio(d.device_id, seed) for d in flat}
    profile_of = {d.device_id: profiles[d.profile] for d in flat}
    messages = fleet_messages(
        flat, profiles, start, end, seed=seed, interval_s=interval_s, timezone=timezone,
        status=False,
    )  # fmt: skip
    for message in messages:
        if message.kind != "telemetry" or message.fault is not None:
            continue
        doc = orjson.loads(message.payload)
        values = {k: float(v) for k, v in doc.items() if k != "ts"}
        device = message.device_id
        f_cnt = counters.get(device, -1) + 1
        counters[device] = f_cnt
        if rng.random() < loss:
            continue  # lost on the air: the next frame counter shows the gap
        profile = profile_of[device]
        decoded = None if rng.random() < undecoded else encode_decoded(values, profile)
        eui = dev_eui(device)
        radio = radios[device]
        heard = [
            (gw, round(rssi + rng.gauss(0, 2)), round(snr + rng.gauss(0, 1.5), 2))
            for gw, rssi, snr in radio.gateways
        ]
        at = message.sent_at
        if network == "tts":
            app = tts_application(application, profile.name)
            body = tts_uplink(device, eui, app, at, f_cnt, decoded, heard, radio.sf)
            topic = f"v3/{app}@ttn/devices/{device}/up"
        else:
            body = chirpstack_uplink(
                device, eui, application, profile.name, at, f_cnt, decoded, heard, radio.sf
            )
            topic = f"application/{APPLICATION_ID}/device/{eui.lower()}/event/up"
        yield Uplink(at, device, eui, topic, orjson.dumps(body), f_cnt, decoded is not None)


def tts_application(prefix: str, profile: str) -> str:
    """The TTS application of a profile's simulated devices (ids: a-z, 0-9, -)."""
    return f"{prefix}-{profile.replace('_', '-')}"


def _time(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def tts_uplink(
    device_id: str,
    eui: str,
    application: str,
    at: datetime,
    f_cnt: int,
    decoded: Mapping[str, Any] | None,
    heard: Sequence[tuple[str, float, float]],
    sf: int,
) -> dict[str, Any]:
    """An ApplicationUp with an uplink_message (TTS leaves out empty fields)."""
    up: dict[str, Any] = {
        "f_port": 1,
        "frm_payload": base64.b64encode(f_cnt.to_bytes(4, "big")).decode(),
        "rx_metadata": [
            {
                "gateway_ids": {"gateway_id": f"eui-{gw}", "eui": gw.upper()},
                "time": _time(at),
                "rssi": rssi,
                "channel_rssi": rssi,
                "snr": snr,
                "received_at": _time(at),
            }
            for gw, rssi, snr in heard
        ],
        "settings": {
            "data_rate": {
                "lora": {"bandwidth": 125000, "spreading_factor": sf, "coding_rate": "4/5"}
            },
            "frequency": "868100000",
        },
        "received_at": _time(at),
        "network_ids": {"net_id": "000013", "tenant_id": "ttn", "cluster_id": "eu1"},
    }
    if f_cnt:
        up["f_cnt"] = f_cnt
    if decoded:
        up["decoded_payload"] = dict(decoded)
    return {
        "end_device_ids": {
            "device_id": device_id,
            "application_ids": {"application_id": application},
            "dev_eui": eui,
            "join_eui": "0000000000000001",
        },
        "correlation_ids": [
            f"as:up:{hashlib.md5(f'{device_id}{f_cnt}'.encode()).hexdigest()[:26].upper()}"
        ],
        "received_at": _time(at),
        "uplink_message": up,
    }


def chirpstack_uplink(
    device_id: str,
    eui: str,
    application: str,
    device_profile: str,
    at: datetime,
    f_cnt: int,
    decoded: Mapping[str, Any] | None,
    heard: Sequence[tuple[str, float, float]],
    sf: int,
) -> dict[str, Any]:
    """An UplinkEvent in the Protocol Buffers JSON mapping (defaults left out)."""
    body: dict[str, Any] = {
        "deduplicationId": str(
            hashlib.md5(f"{device_id}:{f_cnt}:{at.isoformat()}".encode()).hexdigest()
        ),
        "time": _time(at),
        "deviceInfo": {
            "tenantId": "52f14cd4-c6f1-4fbd-8f87-4025e1d49242",
            "tenantName": "Kommune",
            "applicationId": APPLICATION_ID,
            "applicationName": application,
            "deviceProfileId": "14855bf7-d10d-4aee-b618-ebfcb64dc7ad",
            "deviceProfileName": device_profile,
            "deviceName": device_id,
            "devEui": eui.lower(),
            "tags": {"hub_profile": device_profile},
        },
        "devAddr": "00189440",
        "adr": True,
        "dr": 12 - sf,
        "fPort": 1,
        "data": base64.b64encode(f_cnt.to_bytes(4, "big")).decode(),
        "rxInfo": [
            {
                "gatewayId": gw,
                "uplinkId": 1000 + n,
                "nsTime": _time(at),
                "rssi": int(rssi),
                "snr": snr,
                "channel": 2,
                "crcStatus": "CRC_OK",
            }
            for n, (gw, rssi, snr) in enumerate(heard)
        ],
        "txInfo": {
            "frequency": 868100000,
            "modulation": {
                "lora": {"bandwidth": 125000, "spreadingFactor": sf, "codeRate": "CR_4_5"}
            },
        },
        "regionConfigId": "eu868",
    }
    if f_cnt:
        body["fCnt"] = f_cnt
    if decoded:
        body["object"] = dict(decoded)
    return body
