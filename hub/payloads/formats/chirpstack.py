"""ChirpStack (v4) events with the JSON marshaler: the ``UplinkEvent`` and
``StatusEvent`` of ``api/proto/integration/integration.proto`` in the Protocol
Buffers JSON mapping (lowerCamelCase names, default values left out, bytes in
base64), as its MQTT integration publishes them on
``application/{application id}/device/{DevEUI}/event/{up|status|...}`` and its
HTTP integration posts them with ``?event=up``::

    {"deduplicationId": "...", "time": "2026-01-10T06:45:00.123+00:00",
     "deviceInfo": {"tenantId": "...", "applicationId": "...", "applicationName": "...",
                    "deviceProfileId": "...", "deviceProfileName": "...",
                    "deviceName": "...", "devEui": "0101010101010101", "tags": {...}},
     "devAddr": "00189440", "dr": 5, "fCnt": 10, "fPort": 1, "data": "qg==",
     "object": {...},
     "rxInfo": [{"gatewayId": "0016c001f153a14c", "rssi": -52, "snr": 13.75, ...}],
     "txInfo": {"frequency": 868100000,
                "modulation": {"lora": {"bandwidth": 125000, "spreadingFactor": 7}}}}

``object`` is there only when the device profile has a payload codec. A status
event carries ``margin`` (dB) and ``batteryLevel`` (percent, unless
``batteryLevelUnavailable`` or ``externalPowerSource``), stored as ``lora_margin``
and ``battery`` when the profile has them. The reading time is ``time``.
"""

from __future__ import annotations

from typing import Any

import orjson

from hub.errors import PayloadError
from hub.model import Item
from hub.payloads.context import DecodeContext, Origin
from hub.payloads.formats.lorawan import Gateway, Uplink, hex_eui, ns_time, number, to_item

EVENTS = ("up", "status", "join", "ack", "txack", "log", "location", "integration")


def event_of(topic: str) -> str:
    """The event type from an MQTT topic (``.../event/up``) or an HTTP origin
    (``...?event=up``)."""
    if "event=" in topic:
        return topic.rsplit("event=", 1)[1].split("&", 1)[0]
    return topic.rsplit("/", 1)[-1]


def decode(payload: bytes, origin: Origin, context: DecodeContext) -> Item:
    event = event_of(origin.topic)
    if event not in ("up", "status"):
        raise PayloadError("decode", f"ChirpStack event {event[:20]!r} holds no readings")
    return to_item(parse(payload, event), payload, origin.topic, context)


def parse(payload: bytes, event: str = "up") -> Uplink:
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise PayloadError("decode", f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise PayloadError("decode", "expected a JSON object (UplinkEvent)")
    info = _object(doc, "deviceInfo")
    dev_eui = hex_eui(info.get("devEui"))
    if dev_eui is None:
        raise PayloadError("decode", "deviceInfo.devEui is missing or not 16 hex digits")
    tags = info.get("tags")
    common: dict[str, Any] = {
        "network": "chirpstack",
        "time": ns_time(doc.get("time"), "time"),
        "dev_eui": dev_eui,
        "name": info.get("deviceName") if isinstance(info.get("deviceName"), str) else None,
        "application": _text(info.get("applicationName")),
        "device_profile": _text(info.get("deviceProfileName")),
        "tags": {k: v for k, v in tags.items() if isinstance(v, str)}
        if isinstance(tags, dict)
        else {},
    }
    if event == "status":
        return Uplink(**common, extra=_status(doc))
    decoded = doc.get("object")
    lora = _object(_object(_object(doc, "txInfo"), "modulation"), "lora")
    sf = lora.get("spreadingFactor")
    f_cnt = doc.get("fCnt", 0)  # left out when 0
    return Uplink(
        **common,
        f_cnt=f_cnt if isinstance(f_cnt, int) and not isinstance(f_cnt, bool) else None,
        f_port=doc.get("fPort") if isinstance(doc.get("fPort"), int) else None,
        decoded=decoded if isinstance(decoded, dict) and decoded else None,
        gateways=tuple(
            Gateway(number(rx.get("rssi")), number(rx.get("snr")))
            for rx in doc.get("rxInfo") or ()
            if isinstance(rx, dict)
        ),
        spreading_factor=sf if isinstance(sf, int) and not isinstance(sf, bool) else None,
    )


def _status(doc: dict[str, Any]) -> dict[str, float]:
    values: dict[str, float] = {"lora_margin": number(doc.get("margin", 0)) or 0.0}
    battery = number(doc.get("batteryLevel", 0.0))
    if not doc.get("batteryLevelUnavailable") and not doc.get("externalPowerSource"):
        values["battery"] = round(battery or 0.0)
    return values


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _object(doc: dict[str, Any], key: str) -> dict[str, Any]:
    value = doc.get(key)
    return value if isinstance(value, dict) else {}
